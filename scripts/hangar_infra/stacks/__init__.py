"""A stage's two stacks: the registry (deployed before any image exists) and the service."""
