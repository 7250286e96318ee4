"""Hangar's CDK app: one resource graph, built once per stage (local, dev, staging, prod)."""
