"""`make deploy` hands the stage's alarm subscription to the CDK app, which subscribes it."""

from pathlib import Path

import pytest

from hangar.deploy import stage_cdk, stage_target


def test_the_subscription_is_synthesized_into_the_assembly(tmp_path: Path) -> None:
    target = stage_target.Target(
        stage="staging",
        image_tag="abc1234",
        region="us-east-1",
        endpoint=None,
        alarm_subscription="oncall@example.com",
    )
    command = stage_cdk.cdk_synth_command(target, tmp_path / "cdk.out")
    assert command[command.index("alarmSubscription=oncall@example.com") - 1] == "-c"

    without = stage_cdk.cdk_synth_command(
        stage_target.Target(
            stage="staging", image_tag="abc1234", region="us-east-1", endpoint=None
        ),
        tmp_path / "cdk.out",
    )
    assert not any(argument.startswith("alarmSubscription") for argument in without)


def test_it_comes_from_the_option_or_alarm_subscription(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALARM_SUBSCRIPTION", "https://hooks.example.com/alarms")
    from hangar.cli import build_parser

    args = build_parser().parse_args(["deploy", "--stage", "staging"])
    assert args.alarm_subscription == "https://hooks.example.com/alarms"
    args = build_parser().parse_args(
        ["deploy", "--stage", "staging", "--alarm-subscription", "ops@example.com"]
    )
    assert args.alarm_subscription == "ops@example.com"
