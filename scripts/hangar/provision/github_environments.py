"""GitHub environments as code: .github/environments.yml, applied through GitHub's API.

The file declares each deploy environment: the CDK stage it deploys, the only branches and tags its
jobs may run on (GitHub's deployment branch and tag policies), its required reviewers and its plain
variables. `hangar bootstrap-aws` applies it (`apply`), and adds two repository rulesets that guard
those refs: a deploy branch moves only through a pull request, a deploy tag only by a repository
admin. Without them anyone who may push could point a deploy ref at unreviewed code.
`hangar lint-workflows` checks the workflows against the same file (workflow_environments).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from hangar.core.console import info
from hangar.core.errors import HangarError
from hangar.core.github_api import GitHubApi, NotFound
from hangar.core.paths import ROOT
from hangar.provision import workflow_gate

DECLARATION = ROOT / ".github" / "environments.yml"
NAME = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
REVIEWER = re.compile(r"^[A-Za-z0-9-]{1,39}(/[A-Za-z0-9._-]{1,100})?$")  # user, or org/team-slug
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENVIRONMENT_KEYS = {"stage", "branches", "tags", "reviewers", "prevent-self-review", "variables"}
# GitHub's role id of repository admins in a ruleset's bypass list (stable, but not in its docs).
REPOSITORY_ADMIN_ROLE = 5
BRANCH_RULESET = "hangar: deploy branches change only through pull requests"
TAG_RULESET = "hangar: deploy tags are set by repository admins"


@dataclass(frozen=True)
class DeployEnvironment:
    name: str  # as workflows name it (`environment:`), and as it appears in the token's `sub`
    stage: str  # the CDK stage its deploy role may deploy
    branches: tuple[str, ...] = ()  # GitHub's ref patterns (fnmatch: `*` stops at `/`)
    tags: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()  # GitHub logins, or org/team-slug
    prevent_self_review: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)

    def admits(self, ref: str) -> bool:
        """Whether a job on `ref` (refs/heads/… or refs/tags/…) may run in this environment."""
        for prefix, patterns in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if ref.startswith(prefix) and any(
                ref_pattern(p).fullmatch(ref.removeprefix(prefix)) for p in patterns
            ):
                return True
        return False


@dataclass(frozen=True)
class Declaration:
    environments: tuple[DeployEnvironment, ...]
    branch_approvals: int  # approving reviews a pull request to a deploy branch needs

    def named(self, name: str) -> DeployEnvironment | None:
        return next((e for e in self.environments if e.name == name), None)

    @property
    def branches(self) -> list[str]:
        return sorted({b for e in self.environments for b in e.branches})

    @property
    def tags(self) -> list[str]:
        return sorted({t for e in self.environments for t in e.tags})


def ref_pattern(pattern: str) -> re.Pattern[str]:
    """GitHub's ref pattern syntax (File.fnmatch): `*` within a path segment, `**` across them."""
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    wildcards = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))


# --- the declaration -----------------------------------------------------------------------------


def load(path: Path = DECLARATION) -> Declaration:
    """The declaration in `path`; a HangarError naming the first thing wrong with it."""
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    if not path.is_file():
        raise HangarError(f"{where} is missing", hint="declare the deploy environments in it")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise HangarError(f"{where} is not valid YAML: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("environments"), dict):
        raise HangarError(f"{where} has no `environments:` mapping")
    approvals = document.get("branch-approvals", 1)
    if not isinstance(approvals, int) or not 0 <= approvals <= 6:
        raise HangarError(f"{where}: branch-approvals must be a number from 0 to 6")
    environments = tuple(
        _environment(f"{where}: environment {name!r}", name, spec)
        for name, spec in document["environments"].items()
    )
    if not environments:
        raise HangarError(f"{where} declares no environment")
    return Declaration(environments, approvals)


def _environment(where: str, name: Any, spec: Any) -> DeployEnvironment:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise HangarError(f"{where}: the name may hold letters, digits, `.`, `_` and `-` only")
    if not isinstance(spec, dict) or not isinstance(spec.get("stage"), str):
        raise HangarError(f"{where} names no `stage:` (the CDK stage it deploys)")
    if unknown := set(spec) - ENVIRONMENT_KEYS:
        raise HangarError(f"{where}: unknown keys {sorted(unknown)}")
    branches, tags = _strings(where, spec, "branches"), _strings(where, spec, "tags")
    if not branches and not tags:
        raise HangarError(f"{where} admits no branch and no tag: nothing could deploy it")
    reviewers = _strings(where, spec, "reviewers")
    if bad := [r for r in reviewers if not REVIEWER.fullmatch(r)]:
        raise HangarError(f"{where}: reviewers {bad} are not a login or an org/team-slug")
    variables = spec.get("variables") or {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and VARIABLE.fullmatch(k) and isinstance(v, str)
        for k, v in variables.items()
    ):
        raise HangarError(f"{where}: variables map NAME to a string value")
    return DeployEnvironment(
        name=name,
        stage=spec["stage"],
        branches=branches,
        tags=tags,
        reviewers=reviewers,
        prevent_self_review=bool(spec.get("prevent-self-review", False)),
        variables=dict(variables),
    )


def _strings(where: str, spec: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise HangarError(f"{where}: {key} is a list of strings")
    return tuple(value)


# --- applying it ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    api: GitHubApi
    name: str  # owner/name

    @property
    def path(self) -> str:
        return f"/repos/{self.name}"


def apply(
    repository: Repository,
    declaration: Declaration,
    environments: tuple[DeployEnvironment, ...],
    variables: Mapping[str, Mapping[str, str]],
    repository_variables: Mapping[str, str],
) -> None:
    """Bring `environments` of `declaration` and the rulesets guarding its refs to what the file
    says, plus the computed `variables` ({environment: {NAME: value}}) and repository variables."""
    for environment in environments:
        apply_environment(
            repository,
            environment,
            {**environment.variables, **variables.get(environment.name, {})},
        )
    for name, value in repository_variables.items():
        set_variable(repository, f"{repository.path}/actions/variables", name, value)
    apply_rulesets(repository, declaration)


def apply_environment(
    repository: Repository, environment: DeployEnvironment, variables: Mapping[str, str]
) -> None:
    path = f"{repository.path}/environments/{quote(environment.name, safe='')}"
    repository.api.call(
        "PUT",
        path,
        {
            "wait_timer": 0,
            "prevent_self_review": environment.prevent_self_review,
            "reviewers": [reviewer(repository.api, name) for name in environment.reviewers],
            "deployment_branch_policy": {
                "protected_branches": False,
                "custom_branch_policies": True,
            },
        },
    )
    wanted = {(b, "branch") for b in environment.branches} | {(t, "tag") for t in environment.tags}
    policies = f"{path}/deployment-branch-policies"
    existing = repository.api.get(f"{policies}?per_page=100")["branch_policies"]
    present = {(p["name"], p.get("type", "branch")): p["id"] for p in existing}
    for name, kind in sorted(wanted - set(present)):
        repository.api.call("POST", policies, {"name": name, "type": kind})
    for key in sorted(set(present) - wanted):
        repository.api.call("DELETE", f"{policies}/{present[key]}")
    for name, value in variables.items():
        set_variable(repository, f"{path}/variables", name, value)
    refs = [f"branch {b}" for b in environment.branches] + [f"tag {t}" for t in environment.tags]
    who = ", ".join(environment.reviewers) or "nobody"
    info(f"GitHub environment {environment.name}: runs on {', '.join(refs)}; approved by {who}")


def reviewer(api: GitHubApi, name: str) -> dict[str, Any]:
    """{"type": "User"|"Team", "id": …} for a login or an org/team-slug."""
    try:
        if "/" in name:
            org, team = name.split("/")
            return {"type": "Team", "id": api.get(f"/orgs/{org}/teams/{team}")["id"]}
        return {"type": "User", "id": api.get(f"/users/{name}")["id"]}
    except NotFound as error:
        raise HangarError(
            f"reviewer {name!r} of .github/environments.yml does not exist on GitHub",
            hint="name a GitHub login, or an org/team-slug the token may see",
        ) from error


def set_variable(repository: Repository, variables: str, name: str, value: str) -> None:
    """Create or update one Actions variable under `variables` (a repository's or environment's)."""
    try:
        current = repository.api.get(f"{variables}/{name}")
    except NotFound:
        repository.api.call("POST", variables, {"name": name, "value": value})
        return
    if current.get("value") != value:
        repository.api.call("PATCH", f"{variables}/{name}", {"name": name, "value": value})


def apply_rulesets(repository: Repository, declaration: Declaration) -> None:
    rulesets = f"{repository.path}/rulesets"
    existing = {r["name"]: r["id"] for r in repository.api.get(f"{rulesets}?per_page=100")}
    required = workflow_gate.gate_checks(ROOT / ".github" / "workflows")
    for body in ruleset_bodies(declaration, required):
        if body["name"] in existing:
            repository.api.call("PUT", f"{rulesets}/{existing[body['name']]}", body)
        else:
            repository.api.call("POST", rulesets, body)
        info(f"ruleset {body['name']!r}: {', '.join(body['conditions']['ref_name']['include'])}")


def ruleset_bodies(
    declaration: Declaration, required_checks: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The rulesets guarding the refs deploy environments run on: a deploy branch changes through
    a pull request whose `required_checks` passed (the gate jobs: a merge waits for the macOS job
    as for the Linux ones)."""
    bodies = []
    if declaration.branches:
        checks = {
            "type": "required_status_checks",
            "parameters": {
                "required_status_checks": [{"context": name} for name in required_checks],
                "strict_required_status_checks_policy": False,
            },
        }
        review = {
            "required_approving_review_count": declaration.branch_approvals,
            "dismiss_stale_reviews_on_push": True,
            "require_code_owner_review": False,
            "require_last_push_approval": False,
            "required_review_thread_resolution": False,
        }
        bodies.append(
            _ruleset(
                BRANCH_RULESET,
                "branch",
                [f"refs/heads/{b}" for b in declaration.branches],
                [
                    {"type": "deletion"},
                    {"type": "non_fast_forward"},
                    {"type": "pull_request", "parameters": review},
                    *([checks] if required_checks else []),
                ],
                bypass_mode="pull_request",  # admins still go through a pull request
            )
        )
    if declaration.tags:
        bodies.append(
            _ruleset(
                TAG_RULESET,
                "tag",
                [f"refs/tags/{t}" for t in declaration.tags],
                [{"type": "creation"}, {"type": "update"}, {"type": "deletion"}],
                bypass_mode="always",
            )
        )
    return bodies


def _ruleset(
    name: str, target: str, include: list[str], rules: list[dict[str, Any]], bypass_mode: str
) -> dict[str, Any]:
    return {
        "name": name,
        "target": target,
        "enforcement": "active",
        "conditions": {"ref_name": {"include": include, "exclude": []}},
        "rules": rules,
        "bypass_actors": [
            {
                "actor_id": REPOSITORY_ADMIN_ROLE,
                "actor_type": "RepositoryRole",
                "bypass_mode": bypass_mode,
            }
        ],
    }
