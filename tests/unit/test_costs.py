"""`hangar costs` prices what a template contains, with the stated assumptions."""

import pytest

from hangar.core.errors import HangarError
from hangar.deploy import costs


def template(*, nat: int, multi_az: bool, public_ip: str, instance: str = "db.t4g.micro") -> dict:
    resources = {
        "WebTaskDefinitionD1709B1C": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {"Cpu": "1024", "Memory": "2048"},
        },
        "WebServiceD04B5F3E": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "DesiredCount": 2,
                "TaskDefinition": {"Ref": "WebTaskDefinitionD1709B1C"},
                "NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": public_ip}},
            },
        },
        "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {}},
        "Db": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "DBInstanceClass": instance,
                "AllocatedStorage": "100",
                "MultiAZ": multi_az,
                "StorageType": "gp2",
            },
        },
    }
    for index in range(nat):
        resources[f"Nat{index}"] = {"Type": "AWS::EC2::NatGateway", "Properties": {}}
        resources[f"Eip{index}"] = {"Type": "AWS::EC2::EIP", "Properties": {}}
    return {"Resources": resources}


def by_resource(lines: list[costs.Line]) -> dict[str, float]:
    return {line.resource: round(line.monthly, 2) for line in lines}


def test_every_fixed_cost_follows_the_template() -> None:
    lines = by_resource(costs.stage_costs([template(nat=2, multi_az=True, public_ip="DISABLED")]))

    # 2 tasks x (1 vCPU x 0.04048 + 2 GB x 0.004445) x 730 h
    assert lines["Fargate web service (1 vCPU, 2 GB, X86_64)"] == round(
        2 * (0.04048 + 2 * 0.004445) * 730, 2
    )
    assert lines["NAT gateway"] == round(2 * 0.045 * 730, 2)
    # 2 NAT addresses + 2 for the load balancer; no task has a public IP
    assert lines["Public IPv4 addresses (NAT, load balancer, tasks with a public IP)"] == round(
        4 * 0.005 * 730, 2
    )
    assert lines["RDS PostgreSQL db.t4g.micro (Multi-AZ)"] == round(2 * 0.016 * 730, 2)
    assert lines["RDS storage gp2 (Multi-AZ)"] == round(2 * 100 * 0.115, 2)


def test_tasks_with_a_public_ip_pay_for_it_and_no_nat_costs_nothing() -> None:
    lines = by_resource(costs.stage_costs([template(nat=0, multi_az=False, public_ip="ENABLED")]))

    assert "NAT gateway" not in lines
    assert lines["Public IPv4 addresses (NAT, load balancer, tasks with a public IP)"] == round(
        4 * 0.005 * 730, 2
    )
    assert lines["RDS PostgreSQL db.t4g.micro (single-AZ)"] == round(0.016 * 730, 2)


def test_an_instance_class_without_a_price_is_an_error_not_a_zero() -> None:
    with pytest.raises(HangarError, match=r"no price assumption for RDS db\.r8g\.24xlarge"):
        costs.stage_costs(
            [template(nat=0, multi_az=False, public_ip="DISABLED", instance="db.r8g.24xlarge")]
        )
