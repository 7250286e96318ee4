"""The public entry point: an internet-facing ALB, access-logged into the stack's log bucket."""

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hangar_infra.constructs.nag import acknowledge


class PublicLoadBalancer(Construct):
    def __init__(
        self, scope: Construct, id: str, *, vpc: ec2.IVpc, access_logs: s3.IBucket
    ) -> None:
        super().__init__(scope, id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Public HTTP entry to the web service"
        )
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP")
        acknowledge(
            self.security_group,
            "AwsSolutions-EC23",
            "Internet-facing load balancer of a public web service: it must accept any source.",
        )
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=True,
            security_group=self.security_group,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
        )
        self.alb.log_access_logs(access_logs, prefix="alb")
        self.listener = self.alb.add_listener("Http", port=80, open=False)
