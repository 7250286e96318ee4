"""AWS WAF in front of the load balancer: AWS's managed rule groups and a per-IP rate limit.

The core rule set blocks request bodies over 8 KB (SizeRestrictions_BODY), which would refuse
every document upload; that one rule only counts here, and a rule of ours blocks what it labels
unless the request is an upload (the app enforces its own upload limit, UPLOAD_MAX_BYTES).
"""

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from hangar_infra.naming import ResourceNames

# Requests one client IP may send in any 5 minutes before WAF blocks it for a while.
RATE_LIMIT_PER_5_MINUTES = 2000
# The paths that take request bodies larger than the core rule set allows (documents.urls).
UPLOAD_PATHS = ("/api/documents/", "/documents/")
BODY_SIZE_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def _managed_rule(priority: int, name: str) -> wafv2.CfnWebACL.RuleProperty:
    overrides = (
        [
            wafv2.CfnWebACL.RuleActionOverrideProperty(
                name="SizeRestrictions_BODY",
                action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
            )
        ]
        if name == "AWSManagedRulesCommonRuleSet"
        else None
    )
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name, rule_action_overrides=overrides
            )
        ),
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        visibility_config=_visibility(name),
    )


def _large_body_outside_uploads(priority: int) -> wafv2.CfnWebACL.RuleProperty:
    not_an_upload = [
        wafv2.CfnWebACL.StatementProperty(
            not_statement=wafv2.CfnWebACL.NotStatementProperty(
                statement=wafv2.CfnWebACL.StatementProperty(
                    byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                        field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                        positional_constraint="EXACTLY",
                        search_string=path,
                        text_transformations=[
                            wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                        ],
                    )
                )
            )
        )
        for path in UPLOAD_PATHS
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name="LargeBodyOutsideUploads",
        priority=priority,
        statement=wafv2.CfnWebACL.StatementProperty(
            and_statement=wafv2.CfnWebACL.AndStatementProperty(
                statements=[
                    wafv2.CfnWebACL.StatementProperty(
                        label_match_statement=wafv2.CfnWebACL.LabelMatchStatementProperty(
                            scope="LABEL", key=BODY_SIZE_LABEL
                        )
                    ),
                    *not_an_upload,
                ]
            )
        ),
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        visibility_config=_visibility("LargeBodyOutsideUploads"),
    )


def _rate_limit(priority: int) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name="RateLimitPerIp",
        priority=priority,
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=RATE_LIMIT_PER_5_MINUTES, aggregate_key_type="IP"
            )
        ),
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        visibility_config=_visibility("RateLimitPerIp"),
    )


class WebFirewall(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        names: ResourceNames,
        load_balancer: elbv2.IApplicationLoadBalancer,
    ) -> None:
        super().__init__(scope, id)
        rules = [
            _rate_limit(0),
            *(
                _managed_rule(priority, name)
                for priority, name in enumerate(MANAGED_RULE_GROUPS, 1)
            ),
        ]
        rules.append(_large_body_outside_uploads(len(rules)))
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=rules,
            visibility_config=_visibility(f"{names.contract.service_name}-web"),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "Association",
            resource_arn=load_balancer.load_balancer_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
