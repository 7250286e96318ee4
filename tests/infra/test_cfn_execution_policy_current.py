"""infra/cfn-execution-policy.json is what the synthesized stacks of every stage need, no more and
no less: a stack that gains a resource type fails here until `make cfn-execution-policy` ran."""

from cdk_synth import Synthesized

from hangar.aws.execution_policy import committed_policy, execution_policy, resource_types


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
