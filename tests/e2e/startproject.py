"""A new adopter from nothing, shared by test_startproject_adopter.py and
test_startproject_stack.py: `django-admin startproject`, `git init`, the package installed from a
wheel of this checkout (`uv add --dev`, from uv's cache: --offline), then `hangar init` with every
snippet it prints pasted as a user would, committed. Each module makes its own repository: they
run side by side (one xdist group per module), not one after the other.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from hangar.core.paths import PROJECT_UV, ROOT

SITE = "mysite"


def uv() -> str:
    return shutil.which("uv") or str(PROJECT_UV)


def env() -> dict[str, str]:
    tools = str(Path(uv()).parent)
    # The repository's own venv, never this checkout's (pytest runs in it).
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT")}
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


def make_adopter(base: Path) -> Path:
    """The repository, in `base`, with the wheel built beside it."""
    repo = base / SITE
    repo.mkdir()
    django_admin = Path(sys.executable).parent / "django-admin"
    run(django_admin, "startproject", SITE, ".", cwd=repo)
    run("git", "init", "--quiet", cwd=repo)
    run(uv(), "init", "--bare", "--quiet", "--python", "3.13", cwd=repo)
    # Bounded as the package's own: an open range makes uv resolve for Pythons its cache lacks.
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('">=3.13"', '">=3.13,<3.14"'), encoding="utf-8"
    )
    built = wheel(base / "dist")
    began = time.monotonic()
    # The runtime image serves with gunicorn; the stack's database is PostgreSQL (adopting.md).
    run(uv(), "add", "--offline", "--quiet", "django", "gunicorn", "psycopg[binary]", cwd=repo)
    run(
        uv(),
        "add",
        "--offline",
        "--quiet",
        "--dev",
        f"hangar[cdk,testing] @ {built.as_uri()}",
        cwd=repo,
    )
    print(f"install from the wheel: {time.monotonic() - began:.1f}s")
    identity = ("-c", "user.name=adopter", "-c", "user.email=adopter@example.com")
    run("git", *identity, "add", "--all", cwd=repo)
    run("git", *identity, "commit", "--quiet", "-m", "startproject", cwd=repo)
    init = run(uv(), "run", "--frozen", "hangar", "init", cwd=repo)
    assert (repo / "Makefile").is_file()
    assert "new file mysite/health.py:" in init.stdout
    paste_snippets(repo, init.stdout)
    assert (repo / SITE / "health.py").is_file()
    run("git", *identity, "add", "--all", cwd=repo)
    run("git", *identity, "commit", "--quiet", "-m", "hangar init", cwd=repo)
    return repo
