"""GitHub environments as code: .github/environments.yml, read and applied through GitHub's API.

GitHub cannot be reached here: the API is a loopback stand-in (github_stand_in) that keeps what is
written with GitHub's paths and bodies, so a second run sees the first one's settings.
"""

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from github_stand_in import TEAMS, TOKEN, USERS, GitHubState, github_stand_in, recorded

from hangar.core.errors import HangarError
from hangar.core.github_api import GitHubApi
from hangar.provision import github_environments, workflow_gate
from hangar.provision.github_environments import Declaration, Repository

DECLARED = """
environments:
  staging:
    stage: staging
    branches: [main]
    tags: [rollback-*]
    variables: {CERTIFICATE_ARN: "arn:aws:acm:us-east-1:123456789012:certificate/abc"}
  production:
    stage: prod
    branches: [main]
    tags: [rollback-*]
    reviewers: [octocat, acme/release-managers]
    prevent-self-review: true
branch-approvals: 2
"""


@pytest.fixture
def github(
    serve_http: Callable[[type[BaseHTTPRequestHandler]], int],
) -> tuple[GitHubState, Repository]:
    state = GitHubState({"acme/hangar": recorded("acme-hangar")})
    port = serve_http(github_stand_in(state))
    return state, Repository(GitHubApi(f"http://127.0.0.1:{port}", TOKEN), "acme/hangar")


def declared(tmp_path: Path, text: str = DECLARED) -> Declaration:
    path = tmp_path / "environments.yml"
    path.write_text(text)
    return github_environments.load(path)


def apply(repository: Repository, declaration: Declaration) -> None:
    roles = {
        e.name: {"AWS_DEPLOY_ROLE_ARN": f"arn:aws:iam::123456789012:role/{e.name}"}
        for e in declaration.environments
    }
    github_environments.apply(
        repository, declaration, declaration.environments, roles, {"AWS_DIFF_ROLE_ARN": "arn:diff"}
    )


def test_the_repositorys_declaration_reads(tmp_path: Path) -> None:
    declaration = github_environments.load()

    assert {e.name: e.stage for e in declaration.environments} == {
        "staging": "staging",
        "production": "prod",
    }
    for environment in declaration.environments:
        assert environment.admits("refs/heads/main")
        assert environment.admits("refs/tags/rollback-2026-12-01")  # the documented rollback
        assert not environment.admits("refs/heads/feature/x")
        assert not environment.admits("refs/tags/v1.0")
        assert not environment.admits("refs/pull/7/merge")


def test_applying_creates_environments_rules_reviewers_variables_and_rulesets(
    github: tuple[GitHubState, Repository], tmp_path: Path
) -> None:
    state, repository = github

    apply(repository, declared(tmp_path))

    production = state.environments["production"]
    assert production["reviewers"] == [
        {"type": "User", "id": USERS["octocat"]},
        {"type": "Team", "id": TEAMS["acme/release-managers"]},
    ]
    assert production["prevent_self_review"] is True
    assert production["deployment_branch_policy"] == {
        "protected_branches": False,
        "custom_branch_policies": True,
    }
    for name in ("staging", "production"):
        assert sorted((p["name"], p["type"]) for p in state.policies[name].values()) == [
            ("main", "branch"),
            ("rollback-*", "tag"),
        ]
    assert state.variables["staging"] == {
        "CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/staging",
    }
    assert state.variables[""] == {"AWS_DIFF_ROLE_ARN": "arn:diff"}
    rulesets = {r["name"]: r for r in state.rulesets.values()}
    branches = rulesets[github_environments.BRANCH_RULESET]
    assert branches["conditions"]["ref_name"]["include"] == ["refs/heads/main"]
    review = next(r for r in branches["rules"] if r["type"] == "pull_request")
    assert review["parameters"]["required_approving_review_count"] == 2
    checks = next(r for r in branches["rules"] if r["type"] == "required_status_checks")
    # The gate jobs of this repository's ci.yml, as GitHub names their checks: macOS's included.
    required = [c["context"] for c in checks["parameters"]["required_status_checks"]]
    assert required[0] == "make lint"
    assert required[2].startswith("host mode on macOS")
    assert len(required) == len(workflow_gate.GATES)
    tags = rulesets[github_environments.TAG_RULESET]
    assert tags["target"] == "tag"
    assert tags["conditions"]["ref_name"]["include"] == ["refs/tags/rollback-*"]
    assert {r["type"] for r in tags["rules"]} == {"creation", "update", "deletion"}
    assert tags["bypass_actors"] == [
        {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}
    ]


def test_a_second_run_changes_nothing_but_what_differs(
    github: tuple[GitHubState, Repository], tmp_path: Path
) -> None:
    state, repository = github
    apply(repository, declared(tmp_path))
    first = len(state.requests)

    apply(repository, declared(tmp_path))

    again = [(r.method, r.path) for r in state.requests[first:] if r.method != "GET"]
    # The environments and rulesets are PUT (idempotent); no policy or variable is written again.
    assert {method for method, _ in again} == {"PUT"}
    assert len(state.rulesets) == 2


def test_a_rule_no_longer_declared_is_removed(
    github: tuple[GitHubState, Repository], tmp_path: Path
) -> None:
    """The staging environment as it was: any branch could deploy it."""
    state, repository = github
    apply(
        repository, declared(tmp_path, DECLARED.replace("branches: [main]", "branches: ['*']", 1))
    )
    assert ("*", "branch") in {(p["name"], p["type"]) for p in state.policies["staging"].values()}

    apply(repository, declared(tmp_path))

    assert sorted(p["name"] for p in state.policies["staging"].values()) == ["main", "rollback-*"]


def test_an_unknown_reviewer_is_one_clear_error(
    github: tuple[GitHubState, Repository], tmp_path: Path
) -> None:
    _, repository = github
    declaration = declared(tmp_path, DECLARED.replace("octocat", "nobody-by-that-name"))

    with pytest.raises(HangarError, match=r"reviewer 'nobody-by-that-name' .* does not exist"):
        apply(repository, declaration)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("environments: {}", "declares no environment"),
        ("environments: {staging: {branches: [main]}}", "names no `stage:`"),
        ("environments: {staging: {stage: staging}}", "admits no branch and no tag"),
        ("environments: {staging: {stage: staging, branch: [main]}}", r"unknown keys \['branch'\]"),
        ("environments: {staging: {stage: staging, tags: v1}}", "tags is a list of strings"),
        (
            "environments: {p: {stage: prod, tags: [v*], reviewers: ['a b']}}",
            "are not a login or an org/team-slug",
        ),
        ("environments: {'a b': {stage: dev, tags: [x]}}", "the name may hold"),
        ("environments: {s: {stage: dev, tags: [x], variables: {A: 1}}}", "variables map NAME"),
        ("environments: {s: {stage: dev, tags: [x]}}\nbranch-approvals: 9", "from 0 to 6"),
        ("environments: [", "not valid YAML"),
    ],
)
def test_a_bad_declaration_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(HangarError, match=message):
        declared(tmp_path, text)


def test_github_ref_patterns_stop_at_slashes_unless_doubled() -> None:
    environment = github_environments.DeployEnvironment(
        "e", "dev", branches=("release/*", "hotfix/**"), tags=("v?.*",)
    )

    assert environment.admits("refs/heads/release/1.2")
    assert not environment.admits("refs/heads/release/1/2")
    assert environment.admits("refs/heads/hotfix/a/b")
    assert environment.admits("refs/tags/v1.0")
    assert not environment.admits("refs/tags/v10.0")
    assert not environment.admits("refs/heads/v1.0")  # a tag rule admits no branch
