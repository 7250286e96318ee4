"""The inner loop: `make dev` in compose or on the host, the dev server, debugpy, doctor."""
