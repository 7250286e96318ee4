"""One region for infra, deploy and bootstrap: a caller asking for another one is refused."""

import pytest

from hangar import cli
from hangar.core.aws_clients import DEFAULT_REGION, caller_region
from hangar.core.errors import HangarError

OTHER = "eu-west-1" if DEFAULT_REGION != "eu-west-1" else "us-west-2"


def test_the_stacks_region_is_accepted_from_any_source() -> None:
    assert caller_region({}) == DEFAULT_REGION
    assert caller_region({"AWS_REGION": DEFAULT_REGION}, DEFAULT_REGION) == DEFAULT_REGION


@pytest.mark.parametrize(
    ("environ", "requested", "source"),
    [
        ({"AWS_REGION": OTHER}, None, "AWS_REGION"),
        ({"AWS_DEFAULT_REGION": OTHER}, None, "AWS_DEFAULT_REGION"),
        ({}, OTHER, "--region"),
    ],
)
def test_another_region_is_refused_saying_where_the_region_is_set(
    environ: dict[str, str], requested: str | None, source: str
) -> None:
    with pytest.raises(HangarError, match=f"{source} is {OTHER}") as raised:
        caller_region(environ, requested)
    assert "infra/cdk.json" in str(raised.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "--stage", "staging", "--image-tag", "a" * 40],
        ["bootstrap-aws", "--github-repo", "acme/hangar"],
    ],
)
def test_deploy_and_bootstrap_refuse_a_mismatch_before_calling_aws(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_REGION", OTHER)

    assert cli.main(argv) == 1
    assert f"AWS_REGION is {OTHER}, but the stacks are built for {DEFAULT_REGION}" in (
        capsys.readouterr().err
    )
