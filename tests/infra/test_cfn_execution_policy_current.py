"""infra/cfn-execution-policy.json is what the synthesized stacks of every stage need, no more and
no less: a stack that gains a resource type, or a type whose handlers need a permission the policy
does not grant, fails here until `make cfn-execution-policy` ran."""

from hangar.aws.execution_policy import committed_policy, execution_policy, resource_types
from hangar.aws.provider_schemas import ungranted
from hangar.core.aws_clients import DEFAULT_REGION as REGION
from hangar_infra.synthesis import Synthesized

ACCOUNT = "123456789012"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdk-hangarprd-cfn-exec-role-{ACCOUNT}-{REGION}"


def test_the_committed_policy_covers_exactly_the_stacks_resource_types(
    synthesized: dict[str, Synthesized],
) -> None:
    templates = [path for stage in synthesized.values() for path in stage.template_files()]

    generated = execution_policy(resource_types(templates))

    assert generated == committed_policy(), "run `make cfn-execution-policy` and commit the file"


def test_a_stale_policy_is_told_apart() -> None:
    # The check above compares whole documents: a policy missing one service differs.
    assert execution_policy({"AWS::SQS::Queue"}) != execution_policy(
        {"AWS::SQS::Queue", "AWS::SNS::Topic"}
    )


def test_the_committed_policy_grants_every_handler_permission_of_the_stacks_types(
    synthesized: dict[str, Synthesized],
) -> None:
    """What each type's create, read, update and delete handlers need (the provider schemas), as
    the IAM simulator decides it for CloudFormation's execution role."""
    templates = [path for stage in synthesized.values() for path in stage.template_files()]
    types = resource_types(templates)

    missing = ungranted(
        committed_policy(), types, region=REGION, account=ACCOUNT, principal=EXECUTION_ROLE
    )

    assert missing == [], "run `make cfn-execution-policy`; not granted:\n" + "\n".join(missing)
    assert {"AWS::RDS::DBInstance", "AWS::ECS::Service", "AWS::KMS::Key"} <= types
