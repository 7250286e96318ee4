"""The public entry point with a certificate (HTTPS on 443, port 80 redirects) and without (HTTP on
80 only), and the app told which one it is behind."""

from typing import Any

import pytest
from aws_cdk.assertions import Template

from hangar_infra.synthesis import CERTIFICATE_ARN, Synthesized

pytestmark = pytest.mark.infra

RECOMMENDED_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def service(stage: Synthesized) -> Template:
    return Template.from_json(stage.template("service"))


def listeners(stage: Synthesized) -> dict[int, dict[str, Any]]:
    """Port → listener properties."""
    found = service(stage).find_resources("AWS::ElasticLoadBalancingV2::Listener")
    return {listener["Properties"]["Port"]: listener["Properties"] for listener in found.values()}


def web_target_group(stage: Synthesized) -> str:
    """Logical id of the target group the web service registers with."""
    (web,) = [
        s
        for s in service(stage).find_resources("AWS::ECS::Service").values()
        if "LoadBalancers" in s["Properties"]
    ]
    (attachment,) = web["Properties"]["LoadBalancers"]
    return str(attachment["TargetGroupArn"]["Ref"])


def plain_environment(stage: Synthesized) -> list[dict[str, Any]]:
    tasks = service(stage).find_resources("AWS::ECS::TaskDefinition").values()
    return [
        {
            e["Name"]: e["Value"]
            for e in task["Properties"]["ContainerDefinitions"][0]["Environment"]
        }
        for task in tasks
    ]


def test_with_a_certificate_443_terminates_tls_and_forwards_to_the_web_service(
    stage: Synthesized,
) -> None:
    https = listeners(stage).get(443)
    if not stage.https:
        assert https is None, "no certificate, yet a listener on 443"
        return
    assert https is not None
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": CERTIFICATE_ARN}]
    assert https["SslPolicy"] == RECOMMENDED_TLS_POLICY
    assert https["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": {"Ref": web_target_group(stage)}}
    ]


def test_port_80_redirects_to_https_with_a_certificate_and_serves_the_app_without(
    stage: Synthesized,
) -> None:
    http = listeners(stage)[80]
    assert http["Protocol"] == "HTTP"
    if stage.https:
        assert http["DefaultActions"] == [
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ]
    else:
        assert http["DefaultActions"] == [
            {"Type": "forward", "TargetGroupArn": {"Ref": web_target_group(stage)}}
        ]
    assert set(listeners(stage)) == ({80, 443} if stage.https else {80})


def test_the_load_balancer_admits_exactly_the_ports_it_listens_on(stage: Synthesized) -> None:
    groups = service(stage).find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": "Public HTTP entry to the web service"}},
    )
    (group,) = groups.values()
    ingress = {
        (rule["FromPort"], rule["ToPort"], rule["CidrIp"])
        for rule in group["Properties"]["SecurityGroupIngress"]
    }
    expected = {(80, 80, "0.0.0.0/0")} | ({(443, 443, "0.0.0.0/0")} if stage.https else set())
    assert ingress == expected


def test_the_app_is_told_whether_the_load_balancer_terminates_tls(stage: Synthesized) -> None:
    environments = plain_environment(stage)
    assert len(environments) == 3  # web, worker, migration
    expected = "true" if stage.https else "false"
    assert [env["DJANGO_HTTPS"] for env in environments] == [expected] * 3


def test_service_url_is_https_on_the_domain_with_a_certificate(stage: Synthesized) -> None:
    from hangar_infra.config import stage_config

    outputs = service(stage).find_outputs("*")
    url = outputs["ServiceUrl"]["Value"]
    domain = stage_config(stage.stage, stage.contract).domain
    if stage.https:
        assert domain, "every stage that can take a certificate has a domain"
        assert url == f"https://{domain}"
    else:
        assert url == {
            "Fn::Join": ["", ["http://", {"Fn::GetAtt": [load_balancer(stage), "DNSName"]}]]
        }
    # What the domain's DNS record must point at.
    assert outputs["LoadBalancerDnsName"]["Value"] == {
        "Fn::GetAtt": [load_balancer(stage), "DNSName"]
    }


def load_balancer(stage: Synthesized) -> str:
    (logical_id,) = service(stage).find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    return logical_id


def test_turning_https_on_keeps_the_target_group_and_the_load_balancer(
    synthesized: dict[str, Synthesized],
) -> None:
    """A stage that gets its certificate later must not replace the web service's target group
    (which would redeploy the service) or the load balancer (which would change its DNS name)."""
    for stage in ("dev", "staging"):
        http_only, https = synthesized[stage], synthesized[f"{stage}+https"]
        assert web_target_group(http_only) == web_target_group(https)
        assert load_balancer(http_only) == load_balancer(https)
        http_listener = {
            logical_id
            for logical_id, listener in service(http_only)
            .find_resources("AWS::ElasticLoadBalancingV2::Listener")
            .items()
            if listener["Properties"]["Port"] == 80
        }
        assert http_listener <= set(
            service(https).find_resources("AWS::ElasticLoadBalancingV2::Listener")
        )
