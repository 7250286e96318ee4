"""Repositories of their own that adopt Hangar, for the modules that run its commands there
(test_startproject_adopter.py, test_locallibrary_in_place.py): the package installed from a wheel of
this checkout (`uv add --dev`, at uv.lock's versions: add()), `hangar init`, committed. A new one
from nothing is `django-admin startproject` with every snippet init prints pasted as a user would.
Each module makes its own repository: they run side by side (one xdist group per module).
"""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from checkout_copy import SHARED_VARIABLES

from hangar.core.paths import PROJECT_UV, ROOT

SITE = "mysite"


def uv() -> str:
    return shutil.which("uv") or str(PROJECT_UV)


def env() -> dict[str, str]:
    tools = str(Path(uv()).parent)
    # The repository's own venv, never this checkout's (pytest runs in it); none of this run's
    # database, settings module or compose variables (CI's DATABASE_URL would give the repository's
    # `make test` the test databases this run's workers use).
    left_out = ("VIRTUAL_ENV", "UV_PROJECT", *SHARED_VARIABLES)
    clean = {k: v for k, v in os.environ.items() if k not in left_out}
    return {**clean, "UV_PYTHON": sys.executable, "PATH": f"{tools}{os.pathsep}{clean['PATH']}"}


def run(
    *command: str | Path, cwd: Path, check: bool = True, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**env(), **(extra or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result


def wheel(out: Path) -> Path:
    run(uv(), "build", "--package", "hangar", "--wheel", "--quiet", "--out-dir", out, cwd=ROOT)
    return next(out.glob("hangar-*.whl"))


def paste_snippets(repo: Path, printed: str) -> None:
    """What a user does with init's output, block by block (a `# <where>:` line after a blank
    one): a new file written, the middleware first in MIDDLEWARE, the readiness route in the
    URLconf, the settings appended (a later assignment replaces the one startproject wrote)."""
    settings, urls = repo / SITE / "settings.py", repo / SITE / "urls.py"
    pasted = []
    for block in re.split(r"(?:\A|\n\n)# ", printed):
        header, _, body = block.partition("\n")
        body = body.strip()
        if match := re.fullmatch(r"new file (\S+):", header):
            (repo / match.group(1)).write_text(body + "\n")
        elif header == "first in the settings' MIDDLEWARE:":
            insert_after(settings, "MIDDLEWARE = [\n", f"    {body}\n")
        elif header == "in ROOT_URLCONF's module:":
            imports, _, route = body.partition("\n# and in its urlpatterns:\n")
            urls.write_text(f"{imports}\n{urls.read_text()}")
            insert_after(urls, "urlpatterns = [\n", f"    {route}\n")
        elif header.startswith(f"in {SITE}/settings.py:"):
            settings.write_text(f"{settings.read_text()}\n{body}\n")
        else:
            continue
        pasted.append(header)
    assert len(pasted) == 4, f"init printed other snippets than these: {pasted}\n{printed}"


def insert_after(path: Path, anchor: str, text: str) -> None:
    content = path.read_text()
    assert anchor in content, f"{path} has no {anchor!r}"
    path.write_text(content.replace(anchor, anchor + text, 1))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(step: str, *command: str, cwd: Path, extra: dict[str, str]) -> str:
    began = time.monotonic()
    result = run(*command, cwd=cwd, check=False, extra=extra)
    print(f"{step}: {time.monotonic() - began:.1f}s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{step} failed:\n{output}"
    assert "Traceback" not in output, output
    return output


def get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(url: str, wanted: str, deadline: float) -> float:
    """Seconds until `url` answers 200 with `wanted` in its body (generous deadline: a loaded
    2-core machine); fails naming the last answer."""
    began = time.monotonic()
    last: object = None
    while time.monotonic() - began < deadline:
        try:
            last = get(url)
            if last[0] == 200 and wanted in last[1]:
                return time.monotonic() - began
        except OSError as error:
            last = error
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer {wanted!r} within {deadline:.0f}s: {last}")


PLATFORM = ROOT / "scripts"  # the distribution's source
EARLIER = "0.0.1"
# The line of the Makefile template the earlier release did not have.
NEW_LINE = ".DEFAULT_GOAL := help\n"


def earlier_wheel(tmp_path: Path) -> Path:
    """An earlier release, standing in for a wheel built from an earlier commit: `uv build
    --wheel` of a copy of the distribution's source with version EARLIER and a Makefile template
    without NEW_LINE (the change an upgrade must bring)."""
    source = tmp_path / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(PLATFORM / name, source / name)
    for package in ("hangar", "hangar_infra"):
        shutil.copytree(
            PLATFORM / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    pyproject = source / "pyproject.toml"
    pyproject.write_text(
        re.sub(
            r'^version = ".*"$',
            f'version = "{EARLIER}"',
            pyproject.read_text(),
            count=1,
            flags=re.M,
        )
    )
    template = source / "hangar" / "templates" / "Makefile.template"
    assert NEW_LINE in template.read_text()
    template.write_text(template.read_text().replace(NEW_LINE, "", 1))
    run(uv(), "build", "--wheel", "--quiet", "--out-dir", tmp_path / "dist", source, cwd=ROOT)
    return next((tmp_path / "dist").glob(f"hangar-{EARLIER}-*.whl"))


IDENTITY = ("-c", "user.name=adopter", "-c", "user.email=adopter@example.com")


def commit(repo: Path, message: str) -> None:
    run("git", *IDENTITY, "add", "--all", cwd=repo)
    run("git", *IDENTITY, "commit", "--quiet", "-m", message, cwd=repo)


def add(repo: Path, *requirements: str) -> None:
    """`uv add` in the repository, every package at the version this checkout's uv.lock pins: the
    wheels are in uv's cache already, and a release on PyPI since the lock changes no test. uv asks
    PyPI's index for the names (a fresh machine's cache holds only the lock's wheels, so --offline
    finds no `django` there)."""
    constraints = repo.parent / "lock-constraints.txt"
    if not constraints.is_file():
        export = ("export", "--frozen", "--no-hashes", "--all-extras", "--all-groups")
        pinned = run(uv(), *export, "--no-emit-workspace", "--no-header", cwd=ROOT).stdout
        constraints.write_text(pinned)
    run(uv(), "add", "--quiet", "--constraints", constraints, *requirements, cwd=repo)


def install_hangar(repo: Path, built: Path, *dependencies: str) -> None:
    """A uv project in `repo` with the project's dependencies and Hangar's wheel `built` as a
    dev dependency."""
    run(uv(), "init", "--bare", "--quiet", "--python", "3.13", cwd=repo)
    # Bounded as the package's own: an open range makes uv resolve for Pythons its cache lacks.
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('">=3.13"', '">=3.13,<3.14"'), encoding="utf-8"
    )
    began = time.monotonic()
    add(repo, *dependencies)
    add(repo, "--dev", f"hangar[cdk,testing] @ {built.as_uri()}")
    print(f"install from the wheel: {time.monotonic() - began:.1f}s")


def make_adopter(base: Path, built: Path | None = None) -> Path:
    """`django-admin startproject` in `base`, Hangar installed (the wheel `built`, else one of
    this checkout) and initialised, snippets pasted."""
    repo = base / SITE
    repo.mkdir()
    django_admin = Path(sys.executable).parent / "django-admin"
    run(django_admin, "startproject", SITE, ".", cwd=repo)
    run("git", "init", "--quiet", cwd=repo)
    # The runtime image serves with gunicorn; the stack's database is PostgreSQL (adopting.md).
    built = built or wheel(base / "dist")
    install_hangar(repo, built, "django", "gunicorn", "psycopg[binary]")
    commit(repo, "startproject")
    init = run(uv(), "run", "--frozen", "hangar", "init", cwd=repo)
    assert (repo / "Makefile").is_file()
    assert "new file mysite/health.py:" in init.stdout
    paste_snippets(repo, init.stdout)
    assert (repo / SITE / "health.py").is_file()
    commit(repo, "hangar init")
    return repo


def docker_ids(kind: str, *filters: str) -> list[str]:
    listed = ["docker", kind, "ls", "--all", "--quiet"] if kind == "container" else []
    listed = listed or ["docker", kind, "ls", "--quiet"]
    command = [*listed, *(f"--filter={f}" for f in filters)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()


def remove_compose_project(project: str) -> None:
    """What a module's commands created under its repository's compose project, and nothing
    else: the project's name carries a hash of the temporary repository's path."""
    for kind, filters in (
        ("container", (f"name=^{project}-",)),
        ("volume", (f"name=^{project}_",)),
        ("network", (f"name=^{project}_",)),
        ("image", (f"reference={project}-*",)),
    ):
        if ids := docker_ids(kind, *filters):
            remove = ["rm", "--force"] if kind in ("container", "image") else ["rm"]
            subprocess.run(["docker", kind, *remove, *ids], capture_output=True, check=False)


def docker_inspect(container: str, template: str) -> str:
    command = ["docker", "inspect", "--format", template, container]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def own_ports() -> dict[str, str]:
    """Ports of a module's own: the machine runs other checkouts' stacks."""
    return {
        "HANGAR_LOCALSTACK_PORT": str(free_port()),
        "HANGAR_WEB_PORT": str(free_port()),
        "HANGAR_DEBUG_PORT": str(free_port()),
    }


@contextlib.contextmanager
def compose_project_of(repo: Path, service: str, ports: dict[str, str]) -> Iterator[str]:
    """The repository's compose project, taken down and removed after, with a check that
    nothing of it is left."""
    program = "from hangar.core.docker_client import compose_project; print(compose_project())"
    project = run(uv(), "run", "--frozen", "python", "-c", program, cwd=repo).stdout.strip()
    assert project.startswith(f"{service}-"), project
    try:
        yield project
    finally:
        run("make", "down", cwd=repo, check=False, extra=ports)
        remove_compose_project(project)
    left = [docker_ids(kind, f"name=^{project}") for kind in ("container", "volume", "network")]
    assert left == [[], [], []], f"{project} left behind: {left}"
    assert docker_ids("image", f"reference={project}-*") == []
