"""LocalStack: its endpoint, and running it in a container or on the host."""
