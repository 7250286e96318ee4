"""Stages behind NAT reach S3 through a gateway endpoint (free) instead of NAT (paid per GB)."""

from hangar_infra.synthesis import Synthesized


def test_tasks_behind_nat_reach_s3_through_a_gateway_endpoint(stage: Synthesized) -> None:
    resources = stage.template("service")["Resources"]
    endpoints = [r for r in resources.values() if r["Type"] == "AWS::EC2::VPCEndpoint"]
    nat_gateways = [r for r in resources.values() if r["Type"] == "AWS::EC2::NatGateway"]
    if not nat_gateways:  # local, dev: tasks in public subnets, no NAT to bypass
        assert endpoints == []
        return
    [endpoint] = endpoints
    properties = endpoint["Properties"]
    assert properties["VpcEndpointType"] == "Gateway"
    assert ".s3" in str(properties["ServiceName"])
    # The route tables of the task subnets (behind NAT), one per availability zone.
    task_route_tables = {
        logical_id
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::EC2::RouteTable" and "appSubnet" in logical_id
    }
    assert {table["Ref"] for table in properties["RouteTableIds"]} == task_route_tables
    assert len(task_route_tables) == 2
