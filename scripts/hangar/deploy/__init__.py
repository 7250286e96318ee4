"""Synth and deploy-local, `make deploy` to a stage, the deploy watcher, the image, run-task."""
