"""hangar.deploy.service_access on the paths Hangar's stacks do not take today (they are checked on
the synthesized stages in tests/infra/test_service_access.py): EventBridge and SNS sending to a
queue, S3 delivering logs into a bucket without an ACL. Each is allowed by the policy AWS documents
for it, and refused without one."""

from typing import Any

from hangar.deploy.service_access import evaluate, service_requests

ACCOUNT = "123456789012"
REGION = "us-east-1"
QUEUE_ARN = {"Fn::GetAtt": ["Jobs", "Arn"]}


def decisions(resources: dict[str, Any]) -> list[tuple[str, str]]:
    template = {"Resources": resources}
    found = service_requests(template, account=ACCOUNT, region=REGION, elb_account="127311923021")
    return [
        (f"{a.request.principal} {a.request.request.action}", d.decision)
        for a, d in evaluate(found, account=ACCOUNT)
    ]


def queue_policy(principal: str, source: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": "Jobs"}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": principal},
                        "Action": "sqs:SendMessage",
                        "Resource": QUEUE_ARN,
                        "Condition": {"ArnEquals": {"aws:SourceArn": source}},
                    }
                ],
            },
        },
    }


RULE = {
    "Type": "AWS::Events::Rule",
    "Properties": {
        "ScheduleExpression": "rate(1 hour)",
        "Targets": [{"Arn": QUEUE_ARN, "Id": "jobs"}],
    },
}
QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {}}


def test_eventbridge_reaches_a_queue_only_through_the_queue_policy() -> None:
    allowed = queue_policy("events.amazonaws.com", {"Fn::GetAtt": ["Hourly", "Arn"]})
    other_rule = queue_policy("events.amazonaws.com", "arn:aws:events:us-east-1:1:rule/other")

    assert decisions({"Hourly": RULE, "Jobs": QUEUE, "Policy": allowed}) == [
        ("events.amazonaws.com sqs:SendMessage", "Allowed")
    ]
    assert decisions({"Hourly": RULE, "Jobs": QUEUE}) == [
        ("events.amazonaws.com sqs:SendMessage", "ImplicitlyDenied")
    ]
    assert decisions({"Hourly": RULE, "Jobs": QUEUE, "Policy": other_rule}) == [
        ("events.amazonaws.com sqs:SendMessage", "ImplicitlyDenied")
    ]


def test_sns_reaches_a_subscribed_queue_only_through_the_queue_policy() -> None:
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Jobs": QUEUE,
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"Protocol": "sqs", "TopicArn": {"Ref": "Topic"}, "Endpoint": QUEUE_ARN},
        },
    }
    policy = queue_policy("sns.amazonaws.com", {"Ref": "Topic"})

    assert decisions({**resources, "Policy": policy}) == [
        ("sns.amazonaws.com sqs:SendMessage", "Allowed")
    ]
    assert decisions(resources) == [("sns.amazonaws.com sqs:SendMessage", "ImplicitlyDenied")]


def test_server_access_logs_need_the_acl_or_a_policy_once_acls_are_off() -> None:
    source = {
        "Type": "AWS::S3::Bucket",
        "Properties": {"LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}}},
    }
    with_acl = {"Type": "AWS::S3::Bucket", "Properties": {"AccessControl": "LogDeliveryWrite"}}
    enforced = {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "AccessControl": "LogDeliveryWrite",
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    }

    assert decisions({"Documents": source, "Logs": with_acl}) == [
        ("logging.s3.amazonaws.com s3:PutObject", "Allowed")
    ]
    # With ACLs disabled the ACL grants nothing, and no bucket policy lets S3's logging in.
    assert decisions({"Documents": source, "Logs": enforced}) == [
        ("logging.s3.amazonaws.com s3:PutObject", "ImplicitlyDenied")
    ]


ROLE_ARN = {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
TASK_ROLES = [{"Fn::GetAtt": ["TaskRole", "Arn"]}, {"Fn::GetAtt": ["ExecutionRole", "Arn"]}]


def scheduler_trust(condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


def role(trust: dict[str, Any] | None = None) -> dict[str, Any]:
    trust = trust or scheduler_trust({"StringEquals": {"aws:SourceAccount": ACCOUNT}})
    return {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}}


def scheduler_policy(task_definition: Any, cluster: Any, passed: list[Any]) -> dict[str, Any]:
    """The shape of infra's schedule role policy (hangar_infra/constructs/schedules.py)."""
    statements = [
        {
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": task_definition,
            "Condition": {"ArnEquals": {"ecs:cluster": cluster}},
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": passed,
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
    ]
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "Roles": [{"Ref": "SchedulerRole"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        },
    }


def scheduled(**overrides: dict[str, Any]) -> dict[str, Any]:
    """A schedule running a task on a cluster through its role, and everything it names."""
    task_definition = {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {"TaskRoleArn": TASK_ROLES[0], "ExecutionRoleArn": TASK_ROLES[1]},
    }
    return {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
        "Report": task_definition,
        "Web": task_definition,
        "TaskRole": role(),
        "ExecutionRole": role(),
        "AdminRole": role(),
        "SchedulerRole": role(),
        "SchedulerPolicy": scheduler_policy(
            {"Ref": "Report"}, {"Fn::GetAtt": ["Cluster", "Arn"]}, TASK_ROLES
        ),
        "Nightly": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Target": {
                    "Arn": {"Fn::GetAtt": ["Cluster", "Arn"]},
                    "RoleArn": ROLE_ARN,
                    "EcsParameters": {"TaskDefinitionArn": {"Ref": "Report"}},
                }
            },
        },
        **overrides,
    }


def schedule_decisions(resources: dict[str, Any]) -> list[tuple[str, str, str]]:
    template = {"Resources": resources}
    found = service_requests(template, account=ACCOUNT, region=REGION, elb_account="127311923021")
    return [
        (a.request.request.action, a.request.request.resource.split(":", 5)[-1], d.decision)
        for a, d in evaluate(found, account=ACCOUNT)
    ]


ALLOWED_SCHEDULE = [
    ("sts:AssumeRole", "role/SchedulerRole", "Allowed"),
    ("ecs:RunTask", "task-definition/Report:1", "Allowed"),
    ("iam:PassRole", "role/TaskRole", "Allowed"),
    ("iam:PassRole", "role/ExecutionRole", "Allowed"),
]


def test_the_scheduler_starts_its_task_through_the_schedules_role() -> None:
    assert schedule_decisions(scheduled()) == ALLOWED_SCHEDULE


def test_the_scheduler_is_refused_where_the_schedules_role_does_not_reach() -> None:
    """Each of the role's limits, broken once, is a request the simulator refuses: another
    account's scheduler, another task definition, another cluster, another role to pass."""
    another_account = role(scheduler_trust({"StringEquals": {"aws:SourceAccount": "999999999999"}}))
    other_cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/other"
    cases = {
        "trust": {"SchedulerRole": another_account},
        "task": {
            "SchedulerPolicy": scheduler_policy(
                {"Ref": "Web"}, {"Fn::GetAtt": ["Cluster", "Arn"]}, TASK_ROLES
            )
        },
        "cluster": {
            "SchedulerPolicy": scheduler_policy({"Ref": "Report"}, other_cluster, TASK_ROLES)
        },
        "passed": {
            "SchedulerPolicy": scheduler_policy(
                {"Ref": "Report"},
                {"Fn::GetAtt": ["Cluster", "Arn"]},
                [{"Fn::GetAtt": ["AdminRole", "Arn"]}],
            )
        },
    }
    refused = {
        case: [d[:2] for d in schedule_decisions(scheduled(**overrides)) if d[2] != "Allowed"]
        for case, overrides in cases.items()
    }
    assert refused == {
        "trust": [("sts:AssumeRole", "role/SchedulerRole")],
        "task": [("ecs:RunTask", "task-definition/Report:1")],
        "cluster": [("ecs:RunTask", "task-definition/Report:1")],
        "passed": [("iam:PassRole", "role/TaskRole"), ("iam:PassRole", "role/ExecutionRole")],
    }
