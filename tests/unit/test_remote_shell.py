"""`hangar remote-shell`: which task, which command, and clear errors before anything runs."""

import pytest

from hangar.core.errors import HangarError
from hangar.deploy import remote_shell

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

OUTPUTS = {"ClusterName": "hangar-staging-cluster", "WebServiceName": "hangar-staging-web"}


class FakeEcs:
    """ECS cannot run here; this stands in for list_tasks only."""

    def __init__(self, arns: list[str]) -> None:
        self.arns = arns
        self.calls: list[dict[str, str]] = []

    def list_tasks(self, **kwargs: str) -> dict[str, list[str]]:
        self.calls.append(kwargs)
        return {"taskArns": self.arns}


class FakeCloudFormation:
    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.stack = ""

    def describe_stacks(self, StackName: str) -> dict[str, list[dict[str, object]]]:
        self.stack = StackName
        pairs = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        return {"Stacks": [{"Outputs": pairs}]}


def test_the_command_opens_a_django_shell_in_the_app_container() -> None:
    command = remote_shell.execute_command(
        aws="/usr/bin/aws",
        region="us-east-1",
        cluster="c1",
        task="arn:aws:ecs:us-east-1:1:task/c1/abc",
    )

    assert command == [
        "/usr/bin/aws",
        "ecs",
        "execute-command",
        "--region=us-east-1",
        "--cluster=c1",
        "--task=arn:aws:ecs:us-east-1:1:task/c1/abc",
        "--container=app",
        "--interactive",
        "--command=python manage.py shell",
    ]


def test_a_running_task_of_the_web_service_is_chosen() -> None:
    ecs = FakeEcs(["arn:task/1", "arn:task/2"])

    assert remote_shell.running_task(ecs, OUTPUTS) == "arn:task/1"
    assert ecs.calls == [
        {
            "cluster": "hangar-staging-cluster",
            "serviceName": "hangar-staging-web",
            "desiredStatus": "RUNNING",
        }
    ]


def test_no_running_task_is_a_clear_error() -> None:
    with pytest.raises(HangarError, match="no running task in service hangar-staging-web"):
        remote_shell.running_task(FakeEcs([]), OUTPUTS)


def test_outputs_come_from_the_stages_service_stack() -> None:
    cfn = FakeCloudFormation({**OUTPUTS, "Region": "us-east-1"})

    assert remote_shell.service_outputs(cfn, "staging")["ClusterName"] == "hangar-staging-cluster"
    assert cfn.stack == "hangar-staging-service"
    with pytest.raises(HangarError, match="has no output WebServiceName"):
        remote_shell.service_outputs(FakeCloudFormation({"ClusterName": "c"}), "staging")


def test_a_missing_session_manager_plugin_says_how_to_install_it() -> None:
    with pytest.raises(HangarError, match="Session Manager plugin") as error:
        remote_shell.check_plugin(which=lambda name: None)
    assert "session-manager-working-with-install-plugin" in (error.value.hint or "")
    remote_shell.check_plugin(which=lambda name: f"/usr/local/bin/{name}")


@pytest.mark.parametrize(("stage", "message"), [("local", "local stage has no ECS"), ("qa", "qa")])
def test_local_and_unknown_stages_are_refused(stage: str, message: str) -> None:
    with pytest.raises(HangarError, match=message):
        remote_shell.check_stage(stage)


def test_make_remote_shell_reaches_the_command_and_refuses_local_before_any_aws_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hangar import cli

    assert cli.main(["remote-shell", "--stage", "local"]) != 0
    assert "local stage has no ECS" in capsys.readouterr().err
