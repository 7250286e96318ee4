"""The CDK's argument types are checked when a construct is made, not by mypy.

mypy skips aws_cdk, constructs and cdk_nag (pyproject.toml): reading aws_cdk's 679 modules was
57 s of a 67 s cold `make lint`, paid by every fresh clone and dev container. The CDK classes check
their arguments at run time instead (jsii generates the checks into each one), and the infra tests
make every construct of every stage; these tests prove those checks run here.
"""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecs as ecs

pytestmark = pytest.mark.infra


def test_an_argument_of_the_wrong_type_is_refused_when_the_construct_is_made() -> None:
    stack = Stack(App(), "Types")

    with pytest.raises(TypeError, match="cpu"):
        ecs.FargateTaskDefinition(stack, "Task", cpu="256")


def test_the_same_construct_with_the_right_type_is_made() -> None:
    stack = Stack(App(), "Types")

    assert ecs.FargateTaskDefinition(stack, "Task", cpu=256).node.id == "Task"
