"""Provisioning a bare machine (Docker engine, stand-in images, wheelhouse) and the lint tools."""
