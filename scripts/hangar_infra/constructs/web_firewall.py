"""AWS WAF in front of the load balancer: AWS's managed rule groups and a per-IP rate limit.

Some managed rules inspect the request body, and an upload's body is the file itself: any text
file may hold `../`, `<script>`, a URL, an instance-metadata address or `${jndi:` and still be a
valid upload, and the core rule set refuses any body over 8 KB (SizeRestrictions_BODY). On the paths
the app declares as upload paths (`[tool.hangar] upload-paths`) those rules would refuse CSV and
text uploads, so they only count (and label) there; a rule of ours blocks what they labelled on
every other path. An app that declares none gets the rules blocking everywhere. The app checks an
upload's size and content itself.
"""

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from hangar_infra.naming import ResourceNames

# Requests one client IP may send in any 5 minutes before WAF blocks it for a while.
RATE_LIMIT_PER_5_MINUTES = 2000
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
# The body rules of each group, as (rule, the label it puts on what it matches); AWS's docs list
# them ("… _BODY", label "awswaf:managed:aws:<group's namespace>:… _Body").
BODY_RULES = {
    "AWSManagedRulesCommonRuleSet": tuple(
        (f"{rule}_BODY", f"awswaf:managed:aws:core-rule-set:{rule}_Body")
        for rule in (
            "SizeRestrictions",
            "EC2MetaDataSSRF",
            "GenericLFI",
            "GenericRFI",
            "CrossSiteScripting",
        )
    ),
    "AWSManagedRulesKnownBadInputsRuleSet": tuple(
        (f"{rule}_BODY", f"awswaf:managed:aws:known-bad-inputs:{rule}_Body")
        for rule in ("JavaDeserializationRCE", "Log4JRCE")
    ),
}


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def _managed_rule(
    priority: int, name: str, *, count_body_rules: bool
) -> wafv2.CfnWebACL.RuleProperty:
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule, _ in (BODY_RULES.get(name, ()) if count_body_rules else ())
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name, rule_action_overrides=overrides or None
            )
        ),
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        visibility_config=_visibility(name),
    )


def _body_rules_outside_uploads(
    priority: int, upload_paths: tuple[str, ...]
) -> wafv2.CfnWebACL.RuleProperty:
    """Blocks what the counted body rules labelled, unless the request is an upload."""
    labelled = [
        wafv2.CfnWebACL.StatementProperty(
            label_match_statement=wafv2.CfnWebACL.LabelMatchStatementProperty(
                scope="LABEL", key=label
            )
        )
        for rules in BODY_RULES.values()
        for _, label in rules
    ]
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
        for path in upload_paths
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name="BodyRulesOutsideUploads",
        priority=priority,
        statement=wafv2.CfnWebACL.StatementProperty(
            and_statement=wafv2.CfnWebACL.AndStatementProperty(
                statements=[
                    wafv2.CfnWebACL.StatementProperty(
                        or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=labelled)
                    ),
                    *not_an_upload,
                ]
            )
        ),
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        visibility_config=_visibility("BodyRulesOutsideUploads"),
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
        upload_paths = names.contract.upload_paths
        rules = [
            _rate_limit(0),
            *(
                _managed_rule(priority, name, count_body_rules=bool(upload_paths))
                for priority, name in enumerate(MANAGED_RULE_GROUPS, 1)
            ),
        ]
        if upload_paths:
            rules.append(_body_rules_outside_uploads(len(rules), upload_paths))
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
