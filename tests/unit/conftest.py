"""Hangar's unit tests run without network; hangar.testing.plugin gives them (and the project's
tests) the loopback fixtures: closed_port, listening_port, serve_http."""
