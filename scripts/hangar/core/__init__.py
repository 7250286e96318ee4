"""What every layer may use: paths, errors, console output, the [tool.hangar] contract, pinned tool
versions, AWS clients, the Docker probe and compose.env, git, ports, locks."""
