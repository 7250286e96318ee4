"""Where things live in the project; every command resolves paths from here, once.

The project's root is the folder of the pyproject.toml with `[tool.hangar]` at or above the
working directory, else of the source checkout hangar runs from (hangar.core.contract); never the
folder the package is installed in.
"""

from pathlib import Path

from hangar.core.contract import PYPROJECT

ROOT = PYPROJECT.parent
STATE_DIR = ROOT / ".hangar"  # git-ignored: LocalStack state, generated env files, tool installs
LOCAL_ENV_FILE = STATE_DIR / "local.env"  # written by deploy-local from the stack's outputs
# The project's own settings for `make dev` alone (committed, optional; KEY=VALUE lines): the dev
# services read it in both modes, never a deployed stage or the test stacks. HANGAR_DEV_ENV_FILE
# names another (compose.yaml reads the same variable).
DEV_ENV_FILE = ROOT / "dev.env"
DEV_ENV_FILE_VARIABLE = "HANGAR_DEV_ENV_FILE"
INFRA_DIR = ROOT / "infra"  # the project's CDK entry point (app.py, cdk.json)
# The CDK constructs and stages, beside the hangar package wherever the distribution is installed.
CDK_PACKAGE_DIR = Path(__file__).resolve().parents[2] / "hangar_infra"
NODE_BIN = ROOT / "node_modules" / ".bin"
PROJECT_UV = STATE_DIR / "tools" / "bin" / "uv"  # where `make setup` installs uv
# The thin files `hangar init` writes (Makefile, Dockerfile, infra/cdk.json...), as this version
# ships them: `<path>.template` (hangar.adopt.thin_files renders them).
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_SUFFIX = ".template"
# LocalStack's host-mode lock, shipped in the package (compiled in its folder: docs/localstack.md):
# host mode installs from it, the LocalStack stand-in and the wheelhouse build from it.
LOCALSTACK_LOCK = Path(__file__).resolve().parents[1] / "localstack" / "lock" / "requirements.txt"


def project_file(name: str) -> Path:
    """The project's thin file `name`, else its template: the platform's facts kept in one (the
    Dockerfile's pinned base, infra/cdk.json's region) are there before `hangar init` wrote it."""
    path = ROOT / name
    return path if path.exists() else TEMPLATES_DIR / f"{name}{TEMPLATE_SUFFIX}"


def env_file_values(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of an env file as compose reads the unquoted ones ({} when missing);
    blank lines and # comments are skipped."""
    if not path.is_file():
        return {}
    lines = (line.strip() for line in path.read_text().splitlines())
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}
