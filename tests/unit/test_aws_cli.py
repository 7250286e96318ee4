"""`make aws` and `make remote-shell` run the user's AWS CLI v2, never v1, and say how to get it."""

import stat
from pathlib import Path

import pytest

from hangar import cli
from hangar.core.aws_cli import aws_cli_v2

V2 = "aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0 source/x86_64.debian.12 prompt/off"
V1 = "aws-cli/1.46.3 Python/3.13.0 Linux/6.1.0 botocore/1.42.3"


def fake_aws(folder: Path, version_output: str, *, exit_code: int = 0) -> Path:
    """An `aws` executable that prints a version line (stderr, as v1 does) and records its args."""
    folder.mkdir(parents=True, exist_ok=True)
    aws = folder / "aws"
    aws.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then echo "{version_output}" >&2; exit {exit_code}; fi\n'
        f'echo "$@" > "{folder}/called"\n'
    )
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    return aws


def test_the_aws_cli_v2_on_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aws = fake_aws(tmp_path, V2)
    monkeypatch.setenv("PATH", str(tmp_path))

    assert aws_cli_v2() == str(aws)


@pytest.mark.parametrize(
    ("output", "exit_code", "message"),
    [
        (V1, 0, "is the AWS CLI 1.46.3; Hangar needs v2"),
        ("pyenv: aws: command not found", 127, "does not name an AWS CLI: pyenv: aws"),
    ],
    ids=["v1", "a shim that runs nothing"],
)
def test_anything_but_v2_is_refused_with_how_to_install_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    output: str,
    exit_code: int,
    message: str,
) -> None:
    fake_aws(tmp_path, output, exit_code=exit_code)
    monkeypatch.setenv("PATH", str(tmp_path))

    assert cli.main(["aws", "s3", "ls"]) != 0

    err = capsys.readouterr().err
    assert message in err
    assert "apt-get install awscli" in err
    assert not (tmp_path / "called").exists()


def test_no_aws_on_path_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    assert cli.main(["remote-shell", "--stage", "staging"]) != 0

    err = capsys.readouterr().err
    assert "the AWS CLI is not installed" in err
    assert "Traceback" not in err
