"""What Hangar gives a project's tests: the pytest plugin (`-p hangar.testing.plugin`)."""
