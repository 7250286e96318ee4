"""The public entry point: an internet-facing ALB, access-logged into the stack's log bucket.

With an ACM certificate the ALB terminates TLS on 443 and its port-80 listener only redirects there
(301); without one it serves plain HTTP on 80. `https` tells the app which of the two it is behind.
"""

from aws_cdk import Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hangar_infra.constructs.nag import acknowledge

HTTP_PORT = 80
HTTPS_PORT = 443
# AWS's current recommendation: TLS 1.3 and 1.2 with forward-secret ciphers only.
TLS_POLICY = elbv2.SslPolicy.RECOMMENDED_TLS


class PublicLoadBalancer(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        access_logs: s3.IBucket,
        certificate_arn: str | None = None,
        domain: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.https = certificate_arn is not None
        # The description stays as it was: changing it would replace the security group.
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Public HTTP entry to the web service"
        )
        self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTP_PORT), "HTTP")
        if self.https:
            self.security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), "HTTPS"
            )
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
        # Deleted before the bucket and what empties it (a failed first create rolls back in
        # reverse order): no log object arrives after the bucket was emptied for its deletion.
        self.alb.node.add_dependency(access_logs)
        # Port 80 always exists: with HTTPS it only sends browsers (and old links) to 443.
        self.http_listener = self.alb.add_listener(
            "Http",
            port=HTTP_PORT,
            open=False,
            default_action=(
                elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port=str(HTTPS_PORT), permanent=True
                )
                if self.https
                else None
            ),
        )
        # The listener that forwards to the app.
        self.listener = self.http_listener
        if certificate_arn is not None:
            self.listener = self.alb.add_listener(
                "Https",
                port=HTTPS_PORT,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=TLS_POLICY,
                open=False,
            )
        # The address users are given: the stage's domain (which the certificate must cover and
        # DNS must point at the ALB) over HTTPS, else the ALB's own name.
        host = domain if self.https and domain else self.alb.load_balancer_dns_name
        self.url = Fn.join("", ["https://" if self.https else "http://", host])
