"""The stack tells the deploy where the migration task runs: dev (no NAT) in the public subnets
with a public IP, staging and prod in the private subnets behind NAT without one."""

import pytest

from hangar_infra.synthesis import Synthesized


@pytest.mark.parametrize(
    ("variant", "assign_public_ip", "subnet_group"),
    [
        ("local", "ENABLED", "public"),
        ("dev", "ENABLED", "public"),
        ("staging", "DISABLED", "app"),
        ("prod+https", "DISABLED", "app"),
    ],
)
def test_the_migration_network_outputs_follow_the_stage(
    project_stages: dict[str, Synthesized],
    variant: str,
    assign_public_ip: str,
    subnet_group: str,
) -> None:
    outputs = project_stages[variant].template("service")["Outputs"]

    assert outputs["MigrationAssignPublicIp"]["Value"] == assign_public_ip
    separator, subnets = outputs["MigrationSubnetIds"]["Value"]["Fn::Join"]
    assert separator == ","
    logical_ids = [subnet["Ref"] for subnet in subnets]
    assert len(logical_ids) == 2  # one per availability zone
    assert all(f"Vpc{subnet_group}Subnet" in logical_id for logical_id in logical_ids), logical_ids
