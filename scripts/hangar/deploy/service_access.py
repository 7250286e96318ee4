"""Can AWS's own services reach the stacks' resources? Resource policies, evaluated offline.

A service principal gets in only through the policy of the resource it reaches: CloudWatch
publishing an alarm to an SNS topic, CloudWatch Logs encrypting a log group with a KMS key, the
load balancer writing its access logs into a bucket, EventBridge or SNS sending to a queue,
EventBridge Scheduler starting a scheduled task through its role. Neither
cdk-nag nor cfn-lint nor LocalStack checks that, and a policy that shuts a service out deploys
fine (an alarm topic whose policy holds only a Deny still sends its subscription e-mail).

`service_requests(template, ...)` walks a synthesized template for every such path (a property of
one resource that names another), turns each into the request the service makes (principal,
action, resource ARN and the condition keys AWS documents it sends) with the policy of the
resource it reaches, and `evaluate()` decides them with the simulator the deploy roles are
checked with (hangar.aws.permissions). Resources get stand-in physical names of the right shape
(an ARN per type), so a policy's Ref and Fn::GetAtt resolve as they would once deployed.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hangar.aws.permissions import (
    Decision,
    IamRequest,
    ServiceRequest,
    evaluate_service_requests,
)
from hangar.deploy.cfn_values import DeployedResource, DeployedStack, Resolver

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTS = "events.amazonaws.com"
SNS = "sns.amazonaws.com"
S3_LOGGING = "logging.s3.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
ECS_TASKS = "ecs-tasks.amazonaws.com"
# What CloudWatch Logs does with a log group's key, each request naming the log group in its
# encryption context (which AWS's key policy for encrypted log groups conditions on).
LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
# How S3 lets server access logs in when the target bucket still uses ACLs.
LOG_DELIVERY_ACL = "LogDeliveryWrite"
_FUNCTIONS = ("Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub", "Fn::Select", "Fn::Split")
_POLICY_TYPES = {
    "AWS::SNS::TopicPolicy": "Topics",
    "AWS::SQS::QueuePolicy": "Queues",
    "AWS::S3::BucketPolicy": "Bucket",
}


@dataclass(frozen=True)
class Access:
    """One path from a resource to another that a service takes on its own."""

    path: str  # "MonitoringTarget5xx (AWS::CloudWatch::Alarm) -> MonitoringAlarmTopic (…)"
    request: ServiceRequest
    # Granted by the target's ACL rather than its policy (S3 log delivery to an ACL bucket).
    granted_by_acl: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.request.principal} {self.request.request}"


class _Template:
    """A synthesized template with every resource given a stand-in physical name."""

    def __init__(self, template: Mapping[str, Any], *, account: str, region: str) -> None:
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.account, self.region = account, region
        identities = {
            logical: _identity(logical, resource, account, region)
            for logical, resource in self.resources.items()
        }
        stack = DeployedStack(
            name="synthesized",
            resources={
                logical: DeployedResource(self.resources[logical]["Type"], ref)
                for logical, (ref, _) in identities.items()
            },
            attributes={
                (logical, attribute): value
                for logical, (_, attributes) in identities.items()
                for attribute, value in attributes.items()
            },
            exports={},
            pseudo_parameters={
                "AWS::AccountId": account,
                "AWS::Region": region,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": "synthesized",
            },
        )
        self._resolver = Resolver(stack, emulated=lambda _: True)  # every identity is a stand-in
        self._policies = self._attached_policies()

    def of_type(self, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for logical, resource in self.resources.items():
            if resource["Type"] == kind:
                yield logical, resource.get("Properties", {})

    def target(self, expression: Any, kind: str) -> str | None:
        """The logical id `expression` names (Ref or Fn::GetAtt) if it is a resource of `kind`."""
        if not isinstance(expression, Mapping) or len(expression) != 1:
            return None
        function, argument = next(iter(expression.items()))
        logical = None
        if function == "Ref":
            logical = argument
        elif function == "Fn::GetAtt":
            logical = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
        if isinstance(logical, str) and self.resources.get(logical, {}).get("Type") == kind:
            return logical
        return None

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by what it stands for."""
        if isinstance(value, Mapping):
            if len(value) == 1 and next(iter(value)) in _FUNCTIONS:
                return self._resolver.resolve(value).value
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def arn(self, logical: str) -> str:
        return str(self.resolve({"Fn::GetAtt": [logical, "Arn"]}))

    def ref(self, logical: str) -> str:
        return str(self.resolve({"Ref": logical}))

    def policy(self, logical: str) -> Mapping[str, Any] | None:
        """The resource policy in force on `logical`: its own (a key's) or the one attached."""
        properties = self.resources[logical].get("Properties", {})
        if "KeyPolicy" in properties:
            return self.resolve(properties["KeyPolicy"])
        return self._policies.get(logical)

    def identity_policies(self, role: str) -> dict[str, Mapping[str, Any]]:
        """The policies attached to the role `role` (AWS::IAM::Policy resources naming it)."""
        return {
            logical: self.resolve(properties["PolicyDocument"])
            for logical, properties in self.of_type("AWS::IAM::Policy")
            if {"Ref": role} in properties.get("Roles", [])
        }

    def describe(self, logical: str) -> str:
        return f"{logical} ({self.resources[logical]['Type']})"

    def _attached_policies(self) -> dict[str, Mapping[str, Any]]:
        attached: dict[str, Mapping[str, Any]] = {}
        for kind, targets in _POLICY_TYPES.items():
            for _, properties in self.of_type(kind):
                named = properties[targets]
                for expression in named if isinstance(named, list) else [named]:
                    logical = expression.get("Ref") if isinstance(expression, Mapping) else None
                    if isinstance(logical, str) and logical in self.resources:
                        attached[logical] = self.resolve(properties["PolicyDocument"])
        return attached


# The resources whose Ref is their name, and the ARN AWS gives them.
_NAME_AND_ARN = {
    "AWS::Logs::LogGroup": ("LogGroupName", "arn:aws:logs:{region}:{account}:log-group:{name}:*"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"),
    "AWS::Events::Rule": ("Name", "arn:aws:events:{region}:{account}:rule/{name}"),
    "AWS::Scheduler::Schedule": (
        "Name",
        "arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
    ),
    "AWS::ECS::Cluster": ("ClusterName", "arn:aws:ecs:{region}:{account}:cluster/{name}"),
}


def _identity(
    logical: str, resource: Mapping[str, Any], account: str, region: str
) -> tuple[str, dict[str, str]]:
    """(what Ref gives, {attribute: value}) for a resource, shaped as AWS names it."""
    kind, properties = resource["Type"], resource.get("Properties", {})

    def named(name_property: str, default: str) -> str:
        name = properties.get(name_property)
        return name if isinstance(name, str) else default

    if kind in _NAME_AND_ARN:
        name_property, arn = _NAME_AND_ARN[kind]
        name = named(name_property, logical)
        return name, {"Arn": arn.format(region=region, account=account, name=name)}
    if kind == "AWS::SNS::Topic":
        arn = f"arn:aws:sns:{region}:{account}:{named('TopicName', logical)}"
        return arn, {"TopicArn": arn}
    if kind == "AWS::SQS::Queue":
        name = named("QueueName", logical)
        url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
        return url, {"Arn": f"arn:aws:sqs:{region}:{account}:{name}", "QueueUrl": url}
    if kind == "AWS::S3::Bucket":
        name = named("BucketName", logical.lower())
        return name, {"Arn": f"arn:aws:s3:::{name}"}
    if kind == "AWS::KMS::Key":
        return logical, {"Arn": f"arn:aws:kms:{region}:{account}:key/{logical}", "KeyId": logical}
    if kind == "AWS::IAM::Role":  # a principal of the bucket policies (CDK's bucket emptying)
        return logical, {"Arn": f"arn:aws:iam::{account}:role/{named('RoleName', logical)}"}
    if kind == "AWS::ECS::TaskDefinition":  # Ref gives the ARN of the revision registered
        arn = f"arn:aws:ecs:{region}:{account}:task-definition/{named('Family', logical)}:1"
        return arn, {"TaskDefinitionArn": arn}
    return logical, {}


def _service(
    template: _Template,
    path: str,
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, str],
    target: str,
) -> Access:
    """A request of `principal` over TLS (which the stacks' Deny statements demand)."""
    conditions = {"aws:SecureTransport": "true", **context}
    request = IamRequest(action, resource, tuple(sorted(conditions.items())))
    return Access(path, ServiceRequest(principal, request, template.policy(target)))


def _source(template: _Template, source_arn: str) -> dict[str, str]:
    """The confused-deputy keys AWS services send with a request they make for a resource."""
    return {"aws:SourceArn": source_arn, "aws:SourceAccount": template.account}


def _alarm_actions(template: _Template) -> Iterator[Access]:
    """CloudWatch publishes alarms to their SNS topics, and uses the topic's key to do so."""
    for alarm, properties in template.of_type("AWS::CloudWatch::Alarm"):
        actions = [
            *properties.get("AlarmActions", []),
            *properties.get("OKActions", []),
            *properties.get("InsufficientDataActions", []),
        ]
        for topic in {t for a in actions if (t := template.target(a, "AWS::SNS::Topic"))}:
            path = f"{template.describe(alarm)} -> {template.describe(topic)}"
            source = _source(template, template.arn(alarm))
            yield _service(
                template, path, CLOUDWATCH, "sns:Publish", template.ref(topic), source, topic
            )
            yield from _topic_key(template, topic, CLOUDWATCH, path)


def _topic_key(template: _Template, topic: str, principal: str, path: str) -> Iterator[Access]:
    topic_properties = template.resources[topic].get("Properties", {})
    key = template.target(topic_properties.get("KmsMasterKeyId"), "AWS::KMS::Key")
    if key is None:
        return
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        yield _service(
            template,
            f"{path} -> {template.describe(key)}",
            principal,
            action,
            template.arn(key),
            {},
            key,
        )


def _encrypted_log_groups(template: _Template) -> Iterator[Access]:
    """CloudWatch Logs uses a log group's key, naming the log group in the encryption context."""
    principal = f"logs.{template.region}.amazonaws.com"
    for group, properties in template.of_type("AWS::Logs::LogGroup"):
        key = template.target(properties.get("KmsKeyId"), "AWS::KMS::Key")
        if key is None:
            continue
        group_arn = template.arn(group).removesuffix(":*")
        context = {"kms:EncryptionContext:aws:logs:arn": group_arn}
        path = f"{template.describe(group)} -> {template.describe(key)}"
        for action in LOGS_KEY_ACTIONS:
            yield _service(template, path, principal, action, template.arn(key), context, key)


def _load_balancer_logs(template: _Template, elb_account: str) -> Iterator[Access]:
    """The load balancer writes its access logs (and a test file when logging is turned on) as
    Elastic Load Balancing's account of the region, whose own policies are AWS's."""
    principal = f"arn:aws:iam::{elb_account}:root"
    aws_side = {"elb-log-delivery": _allow("s3:PutObject")}
    for balancer, properties in template.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        attributes = {a["Key"]: a["Value"] for a in properties.get("LoadBalancerAttributes", [])}
        bucket = template.target(attributes.get("access_logs.s3.bucket"), "AWS::S3::Bucket")
        if attributes.get("access_logs.s3.enabled") != "true" or bucket is None:
            continue
        prefix = attributes.get("access_logs.s3.prefix")
        folder = f"{prefix}/AWSLogs" if prefix else "AWSLogs"
        key = f"{folder}/{template.account}/ELBAccessLogTestFile"
        request = IamRequest(
            "s3:PutObject",
            f"{template.arn(bucket)}/{key}",
            (("aws:SecureTransport", "true"),),
        )
        yield Access(
            f"{template.describe(balancer)} -> {template.describe(bucket)}",
            ServiceRequest(principal, request, template.policy(bucket), aws_side),
        )


def _bucket_logging(template: _Template) -> Iterator[Access]:
    """S3 delivers a bucket's server access logs into its target bucket."""
    for source, properties in template.of_type("AWS::S3::Bucket"):
        logging = properties.get("LoggingConfiguration", {})
        target = template.target(logging.get("DestinationBucketName"), "AWS::S3::Bucket")
        if target is None:
            continue
        object_arn = f"{template.arn(target)}/{logging.get('LogFilePrefix', '')}log"
        access = _service(
            template,
            f"{template.describe(source)} -> {template.describe(target)}",
            S3_LOGGING,
            "s3:PutObject",
            object_arn,
            _source(template, template.arn(source)),
            target,
        )
        yield Access(access.path, access.request, _acl_lets_logs_in(template, target))


def _acl_lets_logs_in(template: _Template, bucket: str) -> bool:
    properties = template.resources[bucket].get("Properties", {})
    rules = properties.get("OwnershipControls", {}).get("Rules", [])
    acls_disabled = any(r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules)
    return properties.get("AccessControl") == LOG_DELIVERY_ACL and not acls_disabled


def _event_rule_targets(template: _Template) -> Iterator[Access]:
    """EventBridge sends a rule's events to its queue and topic targets."""
    for rule, properties in template.of_type("AWS::Events::Rule"):
        source = _source(template, template.arn(rule))
        for target in properties.get("Targets", []):
            yield from _delivery(template, rule, EVENTS, target.get("Arn"), source)


def _topic_subscriptions(template: _Template) -> Iterator[Access]:
    """SNS delivers a topic's messages to its subscribed queues."""
    for subscription, properties in template.of_type("AWS::SNS::Subscription"):
        topic = template.target(properties.get("TopicArn"), "AWS::SNS::Topic")
        if properties.get("Protocol") != "sqs" or topic is None:
            continue
        source = _source(template, template.ref(topic))
        yield from _delivery(template, subscription, SNS, properties.get("Endpoint"), source)


def _delivery(
    template: _Template, sender: str, principal: str, target: Any, source: Mapping[str, str]
) -> Iterator[Access]:
    if queue := template.target(target, "AWS::SQS::Queue"):
        path = f"{template.describe(sender)} -> {template.describe(queue)}"
        yield _service(
            template, path, principal, "sqs:SendMessage", template.arn(queue), source, queue
        )
    elif topic := template.target(target, "AWS::SNS::Topic"):
        path = f"{template.describe(sender)} -> {template.describe(topic)}"
        yield _service(template, path, principal, "sns:Publish", template.ref(topic), source, topic)
        yield from _topic_key(template, topic, principal, path)


def _schedule_targets(template: _Template) -> Iterator[Access]:
    """EventBridge Scheduler assumes a schedule's role (its trust policy must let it in), then
    starts the task as that role: RunTask of the task definition on the cluster, and PassRole of
    the task's two roles to ECS tasks (the role's own policies must allow both)."""
    for schedule, properties in template.of_type("AWS::Scheduler::Schedule"):
        target = properties["Target"]
        role = template.target(target.get("RoleArn"), "AWS::IAM::Role")
        if role is None:
            continue
        path = f"{template.describe(schedule)} -> {template.describe(role)}"
        trust = template.resolve(template.resources[role]["Properties"]["AssumeRolePolicyDocument"])
        assume = IamRequest(
            "sts:AssumeRole",
            template.arn(role),
            tuple(sorted(_source(template, template.arn(schedule)).items())),
        )
        yield Access(path, ServiceRequest(SCHEDULER, assume, trust))
        ecs_target = target.get("EcsParameters")
        if ecs_target is None:
            continue
        task_definition = template.target(
            ecs_target["TaskDefinitionArn"], "AWS::ECS::TaskDefinition"
        )
        if task_definition is None:
            continue
        policies = template.identity_policies(role)
        run_task = IamRequest(
            "ecs:RunTask",
            template.ref(task_definition),
            (("ecs:cluster", str(template.resolve(target["Arn"]))),),
        )
        yield Access(path, ServiceRequest(template.arn(role), run_task, None, policies))
        task_properties = template.resources[task_definition]["Properties"]
        for passed in ("TaskRoleArn", "ExecutionRoleArn"):
            if passed in task_properties:
                pass_role = IamRequest(
                    "iam:PassRole",
                    str(template.resolve(task_properties[passed])),
                    (("iam:PassedToService", ECS_TASKS),),
                )
                yield Access(path, ServiceRequest(template.arn(role), pass_role, None, policies))


def _allow(action: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    }


def service_requests(
    template: Mapping[str, Any], *, account: str, region: str, elb_account: str
) -> list[Access]:
    """Every path by which an AWS service reaches a resource of `template` on its own.

    `elb_account`: Elastic Load Balancing's account in `region`, which writes the access logs.
    """
    model = _Template(template, account=account, region=region)
    return [
        *_alarm_actions(model),
        *_encrypted_log_groups(model),
        *_load_balancer_logs(model, elb_account),
        *_bucket_logging(model),
        *_event_rule_targets(model),
        *_topic_subscriptions(model),
        *_schedule_targets(model),
    ]


def evaluate(accesses: list[Access], *, account: str) -> list[tuple[Access, Decision]]:
    """Each access with its decision; an ACL grant is decided by the ACL, not simulated."""
    simulated = iter(
        evaluate_service_requests(
            [a.request for a in accesses if not a.granted_by_acl], account=account
        )
    )
    return [
        (
            access,
            Decision(access.request.request, "Allowed", f"granted by the {LOG_DELIVERY_ACL} ACL")
            if access.granted_by_acl
            else next(simulated),
        )
        for access in accesses
    ]
