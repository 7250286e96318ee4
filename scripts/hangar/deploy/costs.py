"""`hangar costs`: the monthly cost of each stage by resource, from its synthesized templates.

Counts and sizes come from the templates (task CPU and memory, desired counts, NAT gateways,
database class, storage and Multi-AZ, keys, secrets, alarms); prices are the stated assumptions
below (us-east-1, on-demand, list prices, no free tier, 730 hours a month). What depends on traffic
(requests, GB through NAT, log ingestion, S3 and SQS requests, storage of images and objects) is
listed, not guessed. The result goes where the contract's `costs-file` says, for the team to commit
(an infra test regenerates it from the synthesized templates and fails when it is stale), or to
.hangar/costs.md when the contract names none.
"""

import argparse
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT, STATE_DIR

HOURS_PER_MONTH = 730
# Entered by hand from AWS's public price pages (nothing is fetched at run time): check them there.
PRICES_AS_OF = "assumed us-east-1 list prices (entered by hand, not fetched)"
# Fargate per vCPU-hour and per GB-hour, by CPU architecture.
FARGATE = {"X86_64": (0.04048, 0.004445), "ARM64": (0.03238, 0.00356)}
NAT_GATEWAY_HOUR = 0.045
LOAD_BALANCER_HOUR = 0.0225
LCU_HOUR = 0.008
ASSUMED_LCUS = 1.0
PUBLIC_IPV4_HOUR = 0.005
LOAD_BALANCER_ADDRESSES = 2  # one per availability zone
# RDS for PostgreSQL, single-AZ, per hour; Multi-AZ costs twice as much (instance and storage).
RDS_INSTANCE_HOUR = {"db.t4g.micro": 0.016, "db.t4g.small": 0.032, "db.m7g.large": 0.168}
RDS_STORAGE_GB_MONTH = {"gp2": 0.115, "gp3": 0.115}
KMS_KEY_MONTH = 1.0
SECRET_MONTH = 0.40
ALARM_MONTH = 0.10
DASHBOARD_MONTH = 3.0
WEB_ACL_MONTH = 5.0
WEB_ACL_RULE_MONTH = 1.0
USAGE_BASED = (
    "NAT data processing ($0.045/GB), load-balancer LCUs beyond the one assumed, CloudWatch Logs "
    "ingestion ($0.50/GB) and storage, Container Insights, S3 storage and requests, SQS requests, "
    "ECR image storage ($0.10/GB-month), WAF requests ($0.60/million), data transfer out, the "
    "migration task (minutes per deploy), and tasks autoscaling adds above the desired count"
)


@dataclass(frozen=True)
class Line:
    resource: str
    quantity: str
    monthly: float


def _resources(templates: Iterable[Mapping[str, Any]], kind: str) -> list[tuple[str, Any]]:
    return [
        (logical_id, resource.get("Properties", {}))
        for template in templates
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == kind
    ]


def _running_count(templates: Sequence[Mapping[str, Any]], service_id: str, properties: Any) -> int:
    if "DesiredCount" in properties:
        return int(properties["DesiredCount"])
    for _, target in _resources(templates, "AWS::ApplicationAutoScaling::ScalableTarget"):
        if service_id in json.dumps(target.get("ResourceId")):
            return int(target["MinCapacity"])
    return 1  # ECS's default desired count


def _service_words(service_id: str) -> str:
    """`TasksWorkerServiceC7FB42DF` → `tasks worker`: the construct's name, in words."""
    name = re.sub(r"Service[0-9A-F]{8}$", "", service_id)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()


def stage_costs(templates: Sequence[Mapping[str, Any]]) -> list[Line]:
    """The stage's monthly cost lines, from its (registry and service) templates."""
    lines: list[Line] = []
    task_definitions = dict(_resources(templates, "AWS::ECS::TaskDefinition"))
    public_task_addresses = 0
    for service_id, service in _resources(templates, "AWS::ECS::Service"):
        definition = task_definitions[service["TaskDefinition"]["Ref"]]
        count = _running_count(templates, service_id, service)
        vcpu, memory_gb = int(definition["Cpu"]) / 1024, int(definition["Memory"]) / 1024
        architecture = definition.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64")
        per_vcpu, per_gb = FARGATE[architecture]
        hourly = vcpu * per_vcpu + memory_gb * per_gb
        network = service.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        if network.get("AssignPublicIp") == "ENABLED":
            public_task_addresses += count
        lines.append(
            Line(
                f"Fargate {_service_words(service_id)} service "
                f"({vcpu:g} vCPU, {memory_gb:g} GB, {architecture})",
                f"{count} task(s)",
                count * hourly * HOURS_PER_MONTH,
            )
        )
    nat_gateways = len(_resources(templates, "AWS::EC2::NatGateway"))
    if nat_gateways:
        lines.append(
            Line(
                "NAT gateway", str(nat_gateways), nat_gateways * NAT_GATEWAY_HOUR * HOURS_PER_MONTH
            )
        )
    load_balancers = len(_resources(templates, "AWS::ElasticLoadBalancingV2::LoadBalancer"))
    if load_balancers:
        hourly = LOAD_BALANCER_HOUR + ASSUMED_LCUS * LCU_HOUR
        lines.append(
            Line(
                f"Application Load Balancer (+{ASSUMED_LCUS:g} LCU)",
                str(load_balancers),
                load_balancers * hourly * HOURS_PER_MONTH,
            )
        )
    addresses = (
        len(_resources(templates, "AWS::EC2::EIP"))
        + load_balancers * LOAD_BALANCER_ADDRESSES
        + public_task_addresses
    )
    lines.append(
        Line(
            "Public IPv4 addresses (NAT, load balancer, tasks with a public IP)",
            str(addresses),
            addresses * PUBLIC_IPV4_HOUR * HOURS_PER_MONTH,
        )
    )
    for _, database in _resources(templates, "AWS::RDS::DBInstance"):
        instance_class = database["DBInstanceClass"]
        if instance_class not in RDS_INSTANCE_HOUR:
            raise HangarError(
                f"no price assumption for RDS {instance_class}",
                hint="add its on-demand hourly price to hangar.deploy.costs.RDS_INSTANCE_HOUR",
            )
        copies = 2 if database.get("MultiAZ") else 1
        storage_gb = int(database["AllocatedStorage"])
        storage_type = database.get("StorageType", "gp2")
        where = "Multi-AZ" if copies == 2 else "single-AZ"
        lines.append(
            Line(
                f"RDS PostgreSQL {instance_class} ({where})",
                "1",
                copies * RDS_INSTANCE_HOUR[instance_class] * HOURS_PER_MONTH,
            )
        )
        lines.append(
            Line(
                f"RDS storage {storage_type} ({where})",
                f"{storage_gb} GB",
                copies * storage_gb * RDS_STORAGE_GB_MONTH[storage_type],
            )
        )
    for kind, label, price in (
        ("AWS::KMS::Key", "KMS keys", KMS_KEY_MONTH),
        ("AWS::SecretsManager::Secret", "Secrets Manager secrets", SECRET_MONTH),
        ("AWS::CloudWatch::Alarm", "CloudWatch alarms", ALARM_MONTH),
        ("AWS::CloudWatch::Dashboard", "CloudWatch dashboards", DASHBOARD_MONTH),
    ):
        if count := len(_resources(templates, kind)):
            lines.append(Line(label, str(count), count * price))
    for _, acl in _resources(templates, "AWS::WAFv2::WebACL"):
        rules = len(acl.get("Rules", []))
        lines.append(
            Line(
                f"WAF web ACL ({rules} rules)",
                "1",
                WEB_ACL_MONTH + rules * WEB_ACL_RULE_MONTH,
            )
        )
    return lines


def render(costs: Mapping[str, list[Line]]) -> str:
    out = [
        "# What each stage costs per month",
        "",
        "Generated by `make costs` (`hangar costs`) from the synthesized templates of each stage; "
        "do not edit by hand. An infra test regenerates it and fails when it is stale.",
        "",
        f"Price assumptions: {PRICES_AS_OF}, on-demand, no free tier, no savings plans, "
        f"{HOURS_PER_MONTH} hours a month. Fargate ${FARGATE['X86_64'][0]}/vCPU-hour and "
        f"${FARGATE['X86_64'][1]}/GB-hour (x86; ARM64 ${FARGATE['ARM64'][0]} and "
        f"${FARGATE['ARM64'][1]}); NAT gateway ${NAT_GATEWAY_HOUR}/hour; load balancer "
        f"${LOAD_BALANCER_HOUR}/hour plus {ASSUMED_LCUS:g} LCU at ${LCU_HOUR}/hour; public IPv4 "
        f"${PUBLIC_IPV4_HOUR}/hour per address; RDS PostgreSQL "
        + ", ".join(f"{k} ${v}/hour" for k, v in RDS_INSTANCE_HOUR.items())
        + f" (Multi-AZ twice that), gp2 storage ${RDS_STORAGE_GB_MONTH['gp2']}/GB-month; KMS "
        f"${KMS_KEY_MONTH:g}/key; Secrets Manager ${SECRET_MONTH}/secret; CloudWatch "
        f"${ALARM_MONTH}/alarm and ${DASHBOARD_MONTH:g}/dashboard; WAF ${WEB_ACL_MONTH:g}/web ACL "
        f"and ${WEB_ACL_RULE_MONTH:g}/rule. The S3 gateway endpoint is free.",
        "",
        f"Not included, because they depend on traffic: {USAGE_BASED}.",
        "",
        "| stage | fixed monthly cost (USD) |",
        "| --- | ---: |",
        *(
            f"| {stage} | {sum(line.monthly for line in lines):,.2f} |"
            for stage, lines in costs.items()
        ),
    ]
    for stage, lines in costs.items():
        out += [
            "",
            f"## {stage}",
            "",
            "| resource | quantity | USD / month |",
            "| --- | --- | ---: |",
        ]
        out += [f"| {line.resource} | {line.quantity} | {line.monthly:,.2f} |" for line in lines]
        out.append(f"| **total** | | **{sum(line.monthly for line in lines):,.2f}** |")
    return "\n".join(out) + "\n"


def costs_file() -> Path:
    """The contract's costs-file, which the team commits, or a file of this checkout's own."""
    declared = contract().costs_file
    return ROOT / declared if declared else STATE_DIR / "costs.md"


def load_templates(paths: Iterable[Path]) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in paths]


def run_costs(args: argparse.Namespace) -> int:
    from hangar.core.git import head_commit
    from hangar.core.stages import AWS_STAGES
    from hangar.deploy.stacks import ASSEMBLY_DIR, synth

    synth(list(AWS_STAGES), head_commit())
    costs = {
        stage: stage_costs(
            load_templates(sorted((ASSEMBLY_DIR / stage).glob("**/*.template.json")))
        )
        for stage in AWS_STAGES
    }
    written = costs_file()
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(render(costs))
    for stage, lines in costs.items():
        info(f"{stage}: {sum(line.monthly for line in lines):,.2f} USD/month (fixed part)")
    info(f"wrote {written.relative_to(ROOT)}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "costs",
        help="write each stage's monthly cost by resource, from its templates, to the contract's "
        "costs-file (else .hangar/costs.md)",
        description=__doc__.split("\n\n")[0],
    )
    parser.set_defaults(func=run_costs)
