"""Pieces the service stack composes; each owns its resources and their cdk-nag reasoning."""
