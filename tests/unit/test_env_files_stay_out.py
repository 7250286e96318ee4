"""No .env file but .env.example reaches an image's build context or a commit.

A checkout that holds .env files (python-dotenv's beside manage.py, a root .env, a
.env.production) is built into a context the way Docker reads .dockerignore (the docker SDK's
matcher, a port of Docker's own), and committed with git. Each check also runs against the rules
as they were before, which let the files through: a check that stopped seeing them would fail.
tests/e2e/test_runtime_image.py builds the image itself from such a checkout.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from hangar.core.paths import ROOT

# A project folder and settings package as any Django project has them.
SECRETS = (".env", ".env.local", "site/.env", "site/mysite/.env.production")
KEPT = (".env.example", "Dockerfile", "site/manage.py")
ENV_RULES = {
    ".dockerignore": ("**/.env*", "!**/.env.example"),
    ".gitignore": (".env*", "!.env.example"),
}


def checkout(root: Path, ignore_file: str, *, without_env_rules: bool = False) -> Path:
    """A checkout holding the secrets beside what it ships, with this repository's ignore file
    (without its .env rules: the violating configuration)."""
    lines = (ROOT / ignore_file).read_text().splitlines()
    if without_env_rules:
        lines = [line for line in lines if line.strip() not in ENV_RULES[ignore_file]]
    (root / ignore_file).write_text("\n".join(lines) + "\n")
    for name in (*SECRETS, *KEPT):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("DJANGO_SECRET_KEY=not-for-any-image\n")
    return root


def docker_context(root: Path) -> set[str]:
    """The files `docker build` sends from `root`: .dockerignore read as the engine reads it
    (blank lines and comments dropped), matched by the docker SDK's port of its matcher."""
    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {path for path in exclude_paths(str(root), patterns) if (root / path).is_file()}


def committed(root: Path) -> set[str]:
    """What `git add --all` stages in a fresh repository at `root`."""
    git = shutil.which("git") or "git"
    for command in (["init", "--quiet"], ["add", "--all"]):
        subprocess.run([git, *command], cwd=root, check=True, capture_output=True)
    listed = subprocess.run([git, "ls-files"], cwd=root, check=True, capture_output=True, text=True)
    return set(listed.stdout.splitlines())


@pytest.mark.parametrize(
    ("ignore_file", "shipped"),
    [(".dockerignore", docker_context), (".gitignore", committed)],
    ids=["image-context", "commit"],
)
def test_no_env_file_but_the_example_is_shipped(tmp_path: Path, ignore_file: str, shipped) -> None:
    files = shipped(checkout(tmp_path, ignore_file))

    assert files.isdisjoint(SECRETS), sorted(files & set(SECRETS))
    assert set(KEPT) <= files, "the checkout's other files must still be shipped"


@pytest.mark.parametrize(
    ("ignore_file", "shipped"),
    [(".dockerignore", docker_context), (".gitignore", committed)],
    ids=["image-context", "commit"],
)
def test_without_the_env_rules_the_secrets_would_ship(
    tmp_path: Path, ignore_file: str, shipped
) -> None:
    files = shipped(checkout(tmp_path, ignore_file, without_env_rules=True))

    assert set(SECRETS) <= files
