"""`bootstrap-aws` learns the `sub` its repository's tokens carry from GitHub's API, or is told it.

GitHub's API cannot be reached here: a loopback HTTP server answers with recorded responses
(github_stand_in); the client is the real one, speaking HTTP to it.
"""

import argparse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest
from github_stand_in import TOKEN, GitHubState, github_stand_in, recorded

from hangar.aws import github_oidc, github_subject
from hangar.cli import build_parser
from hangar.core.errors import HangarError
from hangar.core.github_api import GitHubApi
from hangar.provision import github_environments

IMMUTABLE = "repo:acme@7654321/Shipyard@1408704749"


@pytest.fixture
def github(
    serve_http: Callable[[type[BaseHTTPRequestHandler]], int],
    monkeypatch: pytest.MonkeyPatch,
) -> GitHubState:
    """The stand-in, with one repository created before 2026-06-18 and one after."""
    state = GitHubState(
        {"acme/hangar": recorded("acme-hangar"), "acme/shipyard": recorded("acme-shipyard")}
    )
    port = serve_http(github_stand_in(state))
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    return state


def api() -> GitHubApi:
    client = GitHubApi.from_environment()
    assert client is not None
    return client


def test_an_older_repository_keeps_the_legacy_subject(github: GitHubState) -> None:
    assert github_subject.subject_prefix_from_github(api(), "acme/hangar") == "repo:acme/hangar"
    assert [r.path for r in github.requests] == [
        "/repos/acme/hangar",
        "/repos/acme/hangar/actions/oidc/customization/sub",
    ]
    assert github.requests[0].headers["x-github-api-version"] == "2022-11-28"


def test_a_new_repository_gets_the_immutable_subject_even_when_its_flag_says_false(
    github: GitHubState,
) -> None:
    """Recorded: repositories created after 2026-06-18 answer use_immutable_subject=false with an
    ID-qualified sub_claim_prefix; the prefix is what their tokens carry."""
    prefix = github_subject.subject_prefix_from_github(api(), "acme/shipyard")

    assert prefix == IMMUTABLE  # GitHub's spelling of the name, with both IDs
    assert github_oidc.environment_subject(prefix, "production") == (
        f"{IMMUTABLE}:environment:production"
    )


def test_without_a_prefix_in_the_answer_the_flag_decides(github: GitHubState) -> None:
    repository, _ = github.repositories["acme/shipyard"]
    github.repositories["acme/shipyard"] = (
        repository,
        {"use_default": True, "use_immutable_subject": True},
    )
    assert github_subject.subject_prefix_from_github(api(), "acme/shipyard") == IMMUTABLE

    github.repositories["acme/shipyard"] = (repository, {"use_default": True})
    assert github_subject.subject_prefix_from_github(api(), "acme/shipyard") == "repo:acme/Shipyard"


def test_a_custom_subject_template_is_refused(github: GitHubState) -> None:
    repository, _ = github.repositories["acme/hangar"]
    custom = {"use_default": False, "include_claim_keys": ["repository_owner_id", "context"]}
    github.repositories["acme/hangar"] = (repository, custom)

    with pytest.raises(HangarError, match="does not use GitHub's default OIDC subject template"):
        github_subject.subject_prefix_from_github(api(), "acme/hangar")


def test_a_prefix_naming_another_repository_is_refused(github: GitHubState) -> None:
    repository, _ = github.repositories["acme/hangar"]
    github.repositories["acme/hangar"] = (
        repository,
        {"use_default": True, "sub_claim_prefix": "repo:other/x"},
    )

    with pytest.raises(HangarError, match="neither 'repo:acme/hangar' nor"):
        github_subject.subject_prefix_from_github(api(), "acme/hangar")


def test_an_unknown_repository_or_a_bad_token_is_one_clear_error(
    github: GitHubState, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(HangarError, match="refused GET /repos/acme/missing: 404") as missing:
        github_subject.subject_prefix_from_github(api(), "acme/missing")
    assert "check the repository name" in str(missing.value)

    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    with pytest.raises(HangarError, match="401 Bad credentials") as refused:
        github_subject.subject_prefix_from_github(api(), "acme/hangar")
    assert "gh auth token" in str(refused.value)


def test_an_unreachable_api_is_one_clear_error(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)

    with pytest.raises(HangarError, match="cannot be reached"):
        github_subject.subject_prefix_from_github(api(), "acme/hangar")


@pytest.mark.parametrize(
    "value",
    ["repo:acme/hangar", "repo:acme@7654321/hangar@40123456", "repo:ACME/Hangar"],
)
def test_a_prefix_given_by_flag_is_taken_as_it_is(value: str) -> None:
    assert github_subject.parse_subject_prefix(value, "acme/hangar") == value


@pytest.mark.parametrize(
    "value",
    [
        "repo:acme/hangar:*",  # never a wildcard
        "repo:acme/other",
        "repo:acme@7654321/hangar",  # one ID without the other
        "repo:acme@x/hangar@1",
        "acme/hangar",
    ],
)
def test_a_prefix_that_is_not_the_repositorys_is_refused(value: str) -> None:
    with pytest.raises(HangarError, match="is not the subject prefix of acme/hangar"):
        github_subject.parse_subject_prefix(value, "acme/hangar")


def bootstrap_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["bootstrap-aws", "--github-repo", "acme/shipyard", *extra])


def declaration(reviewers: tuple[str, ...] = ("octocat",)) -> github_environments.Declaration:
    return github_environments.Declaration(
        (
            github_environments.DeployEnvironment("staging", "staging", ("main",)),
            github_environments.DeployEnvironment("production", "prod", ("main",), (), reviewers),
        ),
        branch_approvals=1,
    )


def test_bootstrap_learns_the_prefix_from_github_before_anything_changes(
    github: GitHubState,
) -> None:
    side = github_oidc.github_side(bootstrap_args(), declaration(), declaration().environments)

    assert side.prefix == IMMUTABLE
    assert github.writes() == []


def test_the_flag_spares_the_api(github: GitHubState) -> None:
    args = bootstrap_args("--oidc-subject-prefix", "repo:acme/Shipyard")

    side = github_oidc.github_side(args, declaration(), declaration().environments)

    assert side.prefix == "repo:acme/Shipyard"
    assert github.requests == []


def test_without_token_or_flag_it_says_how_to_get_either(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)

    with pytest.raises(HangarError, match="no GITHUB_TOKEN or GH_TOKEN") as error:
        github_oidc.github_side(bootstrap_args(), declaration(), declaration().environments)
    assert "--oidc-subject-prefix" in str(error.value)


def test_production_without_reviewers_is_refused_before_anything_changes(
    github: GitHubState,
) -> None:
    unreviewed = declaration(reviewers=())

    with pytest.raises(HangarError, match=r"\['production'\] .* name no reviewers"):
        github_oidc.github_side(bootstrap_args(), unreviewed, unreviewed.environments)
    assert github.writes() == []
