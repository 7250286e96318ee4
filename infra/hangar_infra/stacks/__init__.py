"""The two stacks of a stage: the registry (deployed first, before any image exists) and the service."""
