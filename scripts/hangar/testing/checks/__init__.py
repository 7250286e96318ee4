"""The platform's checks on the project `[tool.hangar]` names, collected by hangar.testing.plugin
beside the project's own tests: what must hold of any project for its stages to deploy."""
