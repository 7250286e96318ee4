"""How GitHub names a repository in its OIDC tokens' `sub`, from GitHub's API or a flag.

`repo:owner/name`, or, for a repository created, renamed or transferred after 2026-06-18 (or opted
in: GitHub's changelog of 2026-04-23), the immutable form `repo:owner@<owner id>/name@<repository
id>`. GitHub's API says which: the repository (its name as GitHub spells it, `id`, `owner.id`) and
its OIDC subject settings, whose `sub_claim_prefix` is the prefix the tokens carry.
"""

import re

from hangar.core.errors import HangarError
from hangar.core.github_api import GitHubApi

SUBJECT_PREFIX = re.compile(
    r"^repo:(?P<owner>[A-Za-z0-9-]{1,39})(?:@(?P<owner_id>[0-9]+))?"
    r"/(?P<name>[A-Za-z0-9._-]{1,100})(?:@(?P<repository_id>[0-9]+))?$"
)


def legacy_prefix(repository: str) -> str:
    return f"repo:{repository}"


def immutable_prefix(repository: str, owner_id: int, repository_id: int) -> str:
    owner, name = repository.split("/")
    return f"repo:{owner}@{owner_id}/{name}@{repository_id}"


def parse_subject_prefix(value: str, repository: str) -> str:
    """--oidc-subject-prefix, checked: one of the two forms, for `repository`."""
    match = SUBJECT_PREFIX.fullmatch(value)
    ids = (match["owner_id"], match["repository_id"]) if match else (None, None)
    if (
        not match
        or (ids[0] is None) != (ids[1] is None)
        or f"{match['owner']}/{match['name']}".lower() != repository.lower()
    ):
        raise HangarError(
            f"--oidc-subject-prefix {value!r} is not the subject prefix of {repository}",
            hint=f"pass {legacy_prefix(repository)} or repo:OWNER@<owner id>/NAME@<repository id>"
            f" (gh api repos/{repository}/actions/oidc/customization/sub --jq .sub_claim_prefix)",
        )
    return value


def subject_prefix_from_github(api: GitHubApi, repository: str) -> str:
    """The prefix GitHub puts in this repository's tokens, from its OIDC subject settings."""
    details = api.get(f"/repos/{repository}")
    settings = api.get(f"/repos/{repository}/actions/oidc/customization/sub")
    full_name = str(details["full_name"])  # GitHub's spelling: `sub` is matched case-sensitively
    if settings.get("use_default") is False:
        raise HangarError(
            f"{full_name} does not use GitHub's default OIDC subject template (custom claims: "
            f"{settings.get('include_claim_keys') or 'its organization`s'}); Hangar's roles "
            "trust the default subject, `<prefix>:environment:<name>`",
            hint=f"gh api -X PUT repos/{full_name}/actions/oidc/customization/sub "
            "-F use_default=true, then run it again",
        )
    legacy = legacy_prefix(full_name)
    immutable = immutable_prefix(full_name, details["owner"]["id"], details["id"])
    prefix = settings.get("sub_claim_prefix")
    if prefix is None:  # an API without the field: its flag says which form the tokens use
        prefix = immutable if settings.get("use_immutable_subject") else legacy
    if prefix not in (legacy, immutable):
        raise HangarError(
            f"GitHub names {full_name} {prefix!r} in its tokens, neither {legacy!r} nor "
            f"{immutable!r}",
            hint="pass the prefix its deploy jobs' tokens carry with --oidc-subject-prefix",
        )
    return str(prefix)
