"""The GitHub roles' trust policies, evaluated the way STS does for AssumeRoleWithWebIdentity.

Each recorded token (fixtures/github/claims: a push to main, jobs in the staging and production
environments, the rollback's manual run on a tag, a pull request, a fork's own run, a recycled
repository name) is played against the trust policies `bootstrap-aws` writes, for a repository
with the legacy subject (acme/hangar) and one with the immutable subject (acme/Shipyard), with the
IAM simulator (hangar.aws.permissions): the token's claims are the request's condition keys.

A pull request from a fork *into* the repository would carry the same `sub` as one from a branch
(GitHub names the base repository and has no claim for the head one): the trust cannot tell them
apart. GitHub gives such a run no OIDC token, and the `cdk-diff` job skips forks
(test_workflows.py); the role it could reach is read-only and limited to staging's stacks.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from hangar.aws import github_oidc
from hangar.aws.permissions import IamRequest, evaluate

ACCOUNT = "123456789012"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
CLAIMS = Path(__file__).parent / "fixtures" / "github" / "claims"
# The claims STS puts in the request context of a GitHub token (the AWS service reference lists
# these; `aud` and `sub` are every OIDC provider's).
CONTEXT_CLAIMS = (
    "aud",
    "sub",
    "actor",
    "environment",
    "job_workflow_ref",
    "ref",
    "repository",
    "repository_id",
    "repository_owner_id",
    "workflow",
)
PREFIXES = {"legacy": "repo:acme/hangar", "immutable": "repo:acme@7654321/Shipyard@1408704749"}
ROLES = ("staging", "production", "cdk-diff")

# Recorded token → the one role it may assume (None: none), for roles trusting its repository.
EXPECTED = {
    "push-main": None,  # no environment: no deploy role
    "staging-push-main": "staging",
    "production-push-main": "production",
    "staging-dispatch-tag": "staging",  # the rollback runs in the environment, on a tag
    "production-dispatch-tag": "production",
    "pull-request": "cdk-diff",
    "fork-pull-request": None,  # a fork's own run: another repository
}


def claims(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CLAIMS / f"{name}.json").read_text())
    return loaded


def trust_policies(prefix: str) -> dict[str, dict[str, Any]]:
    """The trust policies `bootstrap-aws` writes for a repository whose tokens carry `prefix`."""
    subjects = {
        "staging": github_oidc.environment_subject(prefix, "staging"),
        "production": github_oidc.environment_subject(prefix, "production"),
        "cdk-diff": github_oidc.pull_request_subject(prefix),
    }
    return {role: github_oidc.trust_policy(PROVIDER, subject) for role, subject in subjects.items()}


def context(token: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"token.actions.githubusercontent.com:{claim}", str(token[claim]))
        for claim in CONTEXT_CLAIMS
        if token.get(claim)
    )


def assumable_by(
    tokens: dict[str, dict[str, Any]],
    policies: dict[str, dict[str, Any]],
    provider: str = PROVIDER,
) -> dict[str, set[str]]:
    """{token: the roles whose trust lets it (presented through `provider`) assume them}."""
    allowed: dict[str, set[str]] = {name: set() for name in tokens}
    for role, trust in policies.items():
        requests = [
            IamRequest(
                "sts:AssumeRoleWithWebIdentity",
                f"arn:aws:iam::{ACCOUNT}:role/{role}",
                context(token),
            )
            for token in tokens.values()
        ]
        decisions = evaluate(
            {}, requests, principal=provider, account=ACCOUNT, resource_policy=trust
        )
        for name, decision in zip(tokens, decisions, strict=True):
            assert decision.decision != "Invalid", decision.detail
            if decision.allowed:
                allowed[name].add(role)
    return allowed


def assumable(
    token: dict[str, Any], policies: dict[str, dict[str, Any]], provider: str = PROVIDER
) -> set[str]:
    return assumable_by({"token": token}, policies, provider)["token"]


@pytest.mark.parametrize("form", PREFIXES)
def test_each_token_assumes_exactly_the_role_of_its_job(form: str) -> None:
    tokens = {name: claims(f"{form}-{name}") for name in EXPECTED}

    allowed = assumable_by(tokens, trust_policies(PREFIXES[form]))

    assert allowed == {name: {role} if role else set() for name, role in EXPECTED.items()}


def test_a_new_repositorys_deploy_is_refused_by_a_trust_in_the_legacy_form() -> None:
    """The failure of every deploy of a repository created after 2026-06-18, before
    `bootstrap-aws` asked GitHub for its subject: its token carries the IDs."""
    token = claims("immutable-production-push-main")

    assert assumable(token, trust_policies("repo:acme/Shipyard")) == set()
    assert assumable(token, trust_policies(PREFIXES["immutable"])) == {"production"}


def test_a_legacy_token_does_not_pass_a_trust_in_the_immutable_form() -> None:
    assert (
        assumable(
            claims("legacy-production-push-main"),
            trust_policies("repo:acme@7654321/hangar@40123456"),
        )
        == set()
    )


def test_a_recreated_repository_under_the_same_name_assumes_nothing() -> None:
    """Immutable subjects name the IDs: a repository re-created as acme/Shipyard has new ones."""
    token = claims("immutable-recycled-name-production")

    assert token["repository"] == "acme/Shipyard"
    assert assumable(token, trust_policies(PREFIXES["immutable"])) == set()


def test_another_audience_or_another_identity_provider_assumes_nothing() -> None:
    token = claims("legacy-production-push-main")
    policies = trust_policies(PREFIXES["legacy"])

    assert assumable({**token, "aud": "https://github.com/acme"}, policies) == set()
    other_provider = f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com"
    assert assumable(token, policies, provider=other_provider) == set()


def test_a_trust_widened_to_the_whole_repository_would_let_any_job_deploy() -> None:
    """The widening the issue forbids, evaluated: the check sees what it would allow."""
    wide = github_oidc.trust_policy(PROVIDER, "repo:acme/hangar:*")
    condition = wide["Statement"][0]["Condition"]
    wide["Statement"][0]["Condition"] = {"StringLike": condition.pop("StringEquals")}

    assert assumable(claims("legacy-pull-request"), {"production": wide}) == {"production"}
    assert assumable(claims("legacy-push-main"), {"production": wide}) == {"production"}
