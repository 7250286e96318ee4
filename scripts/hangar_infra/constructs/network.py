"""The VPC: public subnets for the load balancer, isolated ones for the database, and task subnets.

With NAT gateways (staging: one, prod: one per AZ) tasks run in private subnets and reach ECR,
Secrets Manager, S3 and SQS through NAT. Without (local, dev) they run in the public subnets with a
public IP and a security group that admits only the load balancer: no NAT cost for a disposable
stage, and no Elastic IP, which LocalStack's CloudFormation cannot create.
"""

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from hangar_infra.config import StageConfig


class Network(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig) -> None:
        super().__init__(scope, id)
        behind_nat = config.nat_gateways > 0
        subnets = [
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ]
        if behind_nat:
            subnets.append(
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            availability_zones=config.availability_zones,
            nat_gateways=config.nat_gateways,
            subnet_configuration=subnets,
        )
        self.task_subnets = ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS if behind_nat else ec2.SubnetType.PUBLIC
        )
        self.assign_public_ip = not behind_nat
        if behind_nat:
            # Object traffic (the buckets' objects, image layers from ECR's S3) skips NAT's
            # per-GB charge; a gateway endpoint itself costs nothing. Tasks in public subnets
            # (dev) pay no NAT.
            self.vpc.add_gateway_endpoint(
                "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.task_subnets]
            )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
