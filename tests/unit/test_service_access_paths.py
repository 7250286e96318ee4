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
