"""Where things live in the checkout; every command resolves paths from here, never from the cwd."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STATE_DIR = ROOT / ".hangar"  # git-ignored: LocalStack state, generated env files, tool installs
LOCAL_ENV_FILE = STATE_DIR / "local.env"  # written by deploy-local from the stack's outputs
INFRA_DIR = ROOT / "infra"
NODE_BIN = ROOT / "node_modules" / ".bin"
PROJECT_UV = STATE_DIR / "tools" / "bin" / "uv"  # where `make setup` installs uv
