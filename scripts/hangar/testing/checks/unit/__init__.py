"""The platform's checks `make test-unit` runs: no network, no synthesis."""
