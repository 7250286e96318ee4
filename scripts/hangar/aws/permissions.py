"""Would IAM allow the AWS calls a deploy really makes? Evaluated offline, from recorded calls.

The free LocalStack enforces no IAM, so a deploy that works against it says nothing about the deploy
role's policy. Calls are recorded where they are sent (LocalStack's own request log, see
scripts/localstack/request_recorder.py, or a botocore hook for what only real AWS serves), turned
into IAM requests (action, resource ARN, condition keys) here, and evaluated against the policy
documents `hangar.aws.github_oidc` puts on the role, with the maintained simulator
@cloud-copilot/iam-simulate (wildcards, resource types, conditions, explicit Deny, permissions
boundaries, resource and trust policies), pinned in package.json and run through
scripts/hangar/aws/iam_simulate.mjs. The same simulator evaluates what AWS services ask of the
stacks' resources against those resources' policies (`evaluate_service_requests`, fed by
hangar.deploy.service_access).
"""

import json
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hangar.core.errors import HangarError
from hangar.core.paths import ROOT

SIMULATOR = Path(__file__).with_name("iam_simulate.mjs")
SIMULATOR_PACKAGE = ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"
# IAM's reference data (actions, their resource types), which the simulator reads too.
IAM_ACTIONS = ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions"
# botocore's service names where they differ from IAM's action prefix.
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
# A stack named in a call has some id IAM matches `stack/<name>/*` against; any id stands for it.
UNKNOWN_STACK_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class ApiCall:
    """One request as sent: botocore's service name, the operation and its parameters."""

    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_recorded(cls, entry: Mapping[str, Any]) -> "ApiCall":
        return cls(entry["service"], entry["operation"], entry.get("params") or {})


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()  # condition keys and values (hashable)

    def __str__(self) -> str:
        condition = "".join(f" [{key}={value}]" for key, value in self.context)
        return f"{self.action} on {self.resource}{condition}"


@dataclass(frozen=True)
class Decision:
    request: IamRequest
    decision: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied, Invalid
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"


def _stack_arn(account: str, region: str, stack: str) -> str:
    if stack.startswith("arn:"):
        return stack
    return f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/{UNKNOWN_STACK_ID}"


def _ecs_arn(account: str, region: str, kind: str, value: str, cluster: str = "") -> str:
    if value.startswith("arn:"):
        return value
    cluster_name = cluster.rsplit("/", 1)[-1]
    path = f"{cluster_name}/{value}" if kind in ("task", "service") and cluster_name else value
    return f"arn:aws:ecs:{region}:{account}:{kind}/{path}"


def _cluster_arn(account: str, region: str, params: Mapping[str, Any]) -> str:
    return _ecs_arn(account, region, "cluster", str(params.get("cluster", "default")))


def _pass_roles(account: str, params: Mapping[str, Any]) -> list[IamRequest]:
    """Registering a task definition with roles passes them to ECS: IAM checks iam:PassRole."""
    return [
        IamRequest(
            "iam:PassRole",
            role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}",
            (("iam:PassedToService", "ecs-tasks.amazonaws.com"),),
        )
        for role in (params.get("taskRoleArn"), params.get("executionRoleArn"))
        if role
    ]


Resources = Callable[[str, str, Mapping[str, Any]], list[str]]

# How each operation's parameters name the resource IAM authorizes it on; an operation IAM has no
# resource-level permissions for is "*". An operation missing here is an error, never "allowed".
RESOURCES: dict[str, Resources] = {
    "cloudformation:DescribeStacks": lambda a, r, p: (
        [_stack_arn(a, r, p["StackName"])] if "StackName" in p else ["*"]
    ),
    **{
        f"cloudformation:{operation}": lambda a, r, p: [_stack_arn(a, r, p["StackName"])]
        for operation in (
            "DescribeStackEvents",
            "CancelUpdateStack",
            "DeleteStack",
            "GetTemplate",
            "DescribeStackResources",
        )
    },
    "sts:AssumeRole": lambda a, r, p: [p["RoleArn"]],
    "sts:GetCallerIdentity": lambda a, r, p: ["*"],
    "ssm:GetParameter": lambda a, r, p: [f"arn:aws:ssm:{r}:{a}:parameter{p['Name']}"],
    "ssm:GetParametersByPath": lambda a, r, p: [f"arn:aws:ssm:{r}:{a}:parameter{p['Path']}"],
    "ssm:PutParameter": lambda a, r, p: [f"arn:aws:ssm:{r}:{a}:parameter{p['Name']}"],
    "cloudwatch:DescribeAlarms": lambda a, r, p: [f"arn:aws:cloudwatch:{r}:{a}:alarm:*"],
    "logs:FilterLogEvents": lambda a, r, p: [f"arn:aws:logs:{r}:{a}:log-group:{p['logGroupName']}"],
    "ecr:GetAuthorizationToken": lambda a, r, p: ["*"],
    **{
        f"ecr:{operation}": lambda a, r, p: [
            f"arn:aws:ecr:{r}:{a}:repository/{p['repositoryName']}"
        ]
        for operation in (
            "BatchCheckLayerAvailability",
            "BatchGetImage",
            "CompleteLayerUpload",
            "GetDownloadUrlForLayer",
            "InitiateLayerUpload",
            "PutImage",
            "UploadLayerPart",
        )
    },
    "ecs:DescribeTaskDefinition": lambda a, r, p: ["*"],
    "ecs:RegisterTaskDefinition": lambda a, r, p: ["*"],
    "ecs:DeregisterTaskDefinition": lambda a, r, p: ["*"],
    "ecs:RunTask": lambda a, r, p: [_ecs_arn(a, r, "task-definition", p["taskDefinition"])],
    "ecs:DescribeTasks": lambda a, r, p: [
        _ecs_arn(a, r, "task", task, p.get("cluster", "")) for task in p["tasks"]
    ],
    "ecs:StopTask": lambda a, r, p: [_ecs_arn(a, r, "task", p["task"], p.get("cluster", ""))],
    "ecs:DescribeServices": lambda a, r, p: [
        _ecs_arn(a, r, "service", service, p.get("cluster", "")) for service in p["services"]
    ],
    "ecs:ListTasks": lambda a, r, p: ["*"],
    "ecs:DescribeClusters": lambda a, r, p: [
        _ecs_arn(a, r, "cluster", cluster) for cluster in p["clusters"]
    ],
    "elasticloadbalancing:DescribeTargetHealth": lambda a, r, p: ["*"],
    # A secret named by its name is authorized on its full ARN: the name and six random characters.
    "secretsmanager:DescribeSecret": lambda a, r, p: [
        f"arn:aws:secretsmanager:{r}:{a}:secret:{p['SecretId']}-a1B2c3"
    ],
    "logs:GetLogEvents": lambda a, r, p: [
        f"arn:aws:logs:{r}:{a}:log-group:{p['logGroupName']}:log-stream:{p['logStreamName']}"
    ],
}


def resource_scoped(action: str) -> bool:
    """Whether IAM can grant `action` on a resource rather than only on "*" (its reference data
    names a resource type for it); an action the data does not know counts as scoped."""
    service, name = action.split(":", 1)
    path = IAM_ACTIONS / f"{service}.json"
    if not path.exists():
        raise HangarError(
            f"IAM's reference data is not installed ({path})", hint="run `make setup` (npm ci)"
        )
    known = json.loads(path.read_text()).get(name.lower())
    return known is None or bool(known["resourceTypes"])


def iam_requests(call: ApiCall, *, account: str, region: str) -> list[IamRequest]:
    """What IAM authorizes for `call`; raises for an operation this module cannot map yet."""
    action = f"{IAM_PREFIX.get(call.service, call.service)}:{call.operation}"
    if action not in RESOURCES:
        raise HangarError(
            f"no IAM mapping for {action}: the deploy makes a call the permission check does not "
            "know how to evaluate",
            hint=f"add {action} to hangar.aws.permissions.RESOURCES (see the AWS Service "
            "Authorization Reference for its resource type)",
        )
    context: tuple[tuple[str, str], ...] = ()
    if action in ("ecs:ListTasks", "ecs:RunTask"):
        context = (("ecs:cluster", _cluster_arn(account, region, call.params)),)
    requests = [
        IamRequest(action, resource, context)
        for resource in RESOURCES[action](account, region, call.params)
    ]
    if action == "ecs:RegisterTaskDefinition":
        requests += _pass_roles(account, call.params)
    return requests


@dataclass(frozen=True)
class ServiceRequest:
    """What an AWS service asks of a resource on its own (CloudWatch publishing an alarm to a
    topic, CloudWatch Logs using a key): only the resource's policy can let it in.
    `identity_policies` are the caller's own, for a caller in another account (the load
    balancer's log delivery in some regions); a service principal has none."""

    principal: str
    request: IamRequest
    resource_policy: Mapping[str, Any] | None
    identity_policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def evaluate(
    policies: Mapping[str, Mapping[str, Any]],
    requests: Sequence[IamRequest],
    *,
    principal: str,
    account: str,
    boundaries: Mapping[str, Mapping[str, Any]] | None = None,
    resource_policy: Mapping[str, Any] | None = None,
) -> list[Decision]:
    """Each request's decision under the principal's identity `policies` ({name: document}), its
    permissions `boundaries`, and the `resource_policy` of the resource it names (a role's trust
    policy for sts:AssumeRole*); all in `account`."""
    answers = _simulate(
        {
            "principal": principal,
            "account": account,
            "policies": _named(policies),
            "boundaries": _named(boundaries or {}) or None,
            "resourcePolicy": resource_policy,
            "requests": [_request(r) for r in requests],
        }
    )
    return [Decision(r, a["decision"], a["detail"]) for r, a in zip(requests, answers, strict=True)]


def evaluate_service_requests(
    requests: Sequence[ServiceRequest], *, account: str
) -> list[Decision]:
    """Each request's decision under the policy of the resource it reaches (`account` owns it)."""
    answers = _simulate(
        {
            "account": account,
            "requests": [
                {
                    **_request(r.request),
                    "principal": r.principal,
                    "policies": _named(r.identity_policies),
                    "resourcePolicy": r.resource_policy,
                }
                for r in requests
            ],
        }
    )
    return [
        Decision(r.request, a["decision"], a["detail"])
        for r, a in zip(requests, answers, strict=True)
    ]


def _named(policies: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "policy": policy} for name, policy in policies.items()]


def _request(request: IamRequest) -> dict[str, Any]:
    return {
        "action": request.action,
        "resource": request.resource,
        "context": dict(request.context),
    }


def _simulate(payload: Mapping[str, Any]) -> list[dict[str, str]]:
    if not payload["requests"]:
        return []
    node = shutil.which("node")
    if node is None or not SIMULATOR_PACKAGE.exists():
        raise HangarError(
            "the IAM policy simulator is not installed", hint="run `make setup` (npm ci)"
        )
    result = subprocess.run(
        [node, str(SIMULATOR)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        raise HangarError(f"the IAM policy simulator failed: {result.stderr.strip()[-2000:]}")
    answers: list[dict[str, str]] = json.loads(result.stdout)
    return answers


def unique_requests(
    calls: Iterable[ApiCall], *, account: str, region: str
) -> dict[IamRequest, list[ApiCall]]:
    """Each distinct IAM request with the calls that need it (a deploy repeats its polls)."""
    requests: dict[IamRequest, list[ApiCall]] = {}
    for call in calls:
        for request in iam_requests(call, account=account, region=region):
            requests.setdefault(request, []).append(call)
    return requests


def read_request_log(path: Path, *, start: int = 0) -> list[dict[str, Any]]:
    """Entries of a request log from line `start` on (phases of one run are line ranges)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[start:]
    return [json.loads(line) for line in lines if line.strip()]
