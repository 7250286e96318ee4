"""The platform's checks `make test-infra` runs: on the project's synthesized stages."""
