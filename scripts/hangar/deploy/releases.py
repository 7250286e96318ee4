"""What was deployed to a stage, kept in AWS: one SSM parameter per release.

After a deploy (or a rollback) succeeded, `hangar deploy` writes
`/<service>/<stage>/releases/<UTC time>-<sha>`: the commit, the image digest the services run,
whether CI's scan came with the image, who deployed it (the GitHub actor and run in Actions, the
local user elsewhere) and the newest migration of each Django app in that commit. `hangar releases`
lists them; `hangar rollback` picks one (hangar.deploy.rollback) and refuses one whose migrations
are behind the database's: migrations only ever run forward, so the database holds the newest
migration of every release ever deployed.
"""

import argparse
import getpass
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.stages import STAGES
from hangar.deploy.stage_access import StageAccess, short_digest, table

# SSM's standard tier holds up to 4 KB a parameter: far more than a release says.
MAX_RECORD_BYTES = 4096
MIGRATION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
SHA_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")
TIME_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Release:
    sha: str
    digest: str
    deployed_at: str  # UTC, TIME_FORMAT: sorts as it reads
    deployed_by: str
    run_url: str = ""  # the GitHub Actions run that deployed it; "" from a laptop
    scanned: bool = False  # CI's scan report came with the image (only then may prod get it)
    migrations: Mapping[str, str] = field(default_factory=dict)  # app → newest migration
    rollback: bool = False

    def parameter_name(self, stage: str) -> str:
        return f"{releases_path(stage)}/{self.deployed_at}-{self.sha}"

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "migrations": dict(self.migrations)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Release":
        fields = json.loads(text)
        return cls(**{key: fields[key] for key in cls.__dataclass_fields__ if key in fields})

    @property
    def when(self) -> datetime:
        return datetime.strptime(self.deployed_at, TIME_FORMAT).replace(tzinfo=UTC)


def releases_path(stage: str) -> str:
    return f"/{contract().service_name}/{stage}/releases"


def now() -> str:
    return datetime.now(UTC).strftime(TIME_FORMAT)


def deployer(environ: Mapping[str, str]) -> tuple[str, str]:
    """Who deploys, and the run URL: GitHub Actions' actor and run, else the local user."""
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_RUN_ID"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        repository = environ.get("GITHUB_REPOSITORY", "")
        run = f"{server}/{repository}/actions/runs/{environ['GITHUB_RUN_ID']}"
        return f"{environ.get('GITHUB_ACTOR', 'github-actions')} (GitHub Actions)", run
    try:
        return getpass.getuser(), ""
    except (KeyError, OSError):
        return "unknown user", ""


# --- migrations ----------------------------------------------------------------------------------


def migration_heads(project: Path) -> dict[str, str]:
    """The newest migration of each app under the Django project, by its number (`0003_…`)."""
    heads: dict[str, str] = {}
    for path in project.rglob("migrations/*.py"):
        if not MIGRATION_FILE.match(path.name) or ".venv" in path.parts:
            continue
        app = path.parent.parent.name
        if app not in heads or _number(path.stem) > _number(heads[app]):
            heads[app] = path.stem
    return dict(sorted(heads.items()))


def _number(migration: str) -> int:
    return int(migration.split("_", 1)[0])


def database_heads(releases: Sequence[Release]) -> dict[str, str]:
    """What the database has applied: the newest migration of each app over every release
    (a rollback runs none, so it never takes one back)."""
    heads: dict[str, str] = {}
    for release in releases:
        for app, migration in release.migrations.items():
            if app not in heads or _number(migration) > _number(heads[app]):
                heads[app] = migration
    return heads


def missing_migrations(target: Release, applied: Mapping[str, str]) -> list[str]:
    """The applied migrations `target`'s code does not have (its models would not match)."""
    missing = []
    for app, migration in sorted(applied.items()):
        has = target.migrations.get(app)
        if has != migration and (has is None or _number(has) <= _number(migration)):
            missing.append(f"{app} {migration} (the image has {has or 'no migration'})")
    return missing


# --- selection -----------------------------------------------------------------------------------


def current(releases: Sequence[Release], stage: str) -> Release:
    if not releases:
        raise HangarError(
            f"stage {stage} has no recorded releases (none under {releases_path(stage)} in SSM).",
            hint=f"deploy an image first: make deploy STAGE={stage} "
            "IMAGE_TAG=$(git rev-parse HEAD)",
        )
    return releases[-1]


def rollback_target(releases: Sequence[Release], stage: str, to: str | None) -> Release:
    """The release to go back to: `to` (a SHA or its prefix), else the newest one that runs
    another image than the current one. `releases` oldest first."""
    running = current(releases, stage)
    if to is None:
        earlier = [r for r in releases if r.digest != running.digest]
        if not earlier:
            raise HangarError(
                f"stage {stage} has run only {running.sha[:12]}: there is no earlier release.",
                hint=f"make releases STAGE={stage} lists what was deployed",
            )
        return earlier[-1]
    to = to.strip().lower()
    if not SHA_PREFIX.fullmatch(to):
        raise HangarError(
            f"TO={to!r} is not a git SHA (7 to 40 hex characters).",
            hint=f"pick one from make releases STAGE={stage}",
        )
    matching = [r for r in releases if r.sha.startswith(to)]
    if not matching:
        raise HangarError(
            f"no release of stage {stage} has SHA {to}.",
            hint=f"make releases STAGE={stage} lists the SHAs that were deployed",
        )
    if len({r.sha for r in matching}) > 1:
        raise HangarError(
            f"SHA {to} matches several releases of stage {stage}.",
            hint="give more characters of the SHA",
        )
    target = matching[-1]
    if target.digest == running.digest:
        raise HangarError(
            f"stage {stage} already runs {target.sha[:12]} ({target.digest}); nothing to do.",
            hint=f"make releases STAGE={stage} lists the others",
        )
    return target


def check_migrations(target: Release, releases: Sequence[Release], stage: str) -> None:
    missing = missing_migrations(target, database_heads(releases))
    if missing:
        raise HangarError(
            f"refusing to roll {stage} back to {target.sha[:12]}: its image lacks migrations the "
            f"database has applied: {'; '.join(missing)}.",
            hint="deploy a fix forward instead (or reverse those migrations by hand first)",
        )


# --- the store (SSM) -----------------------------------------------------------------------------


def load(ssm: Any, stage: str) -> list[Release]:
    """Every release recorded for `stage`, oldest first."""
    releases = []
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=releases_path(stage))
    for page in pages:
        for parameter in page["Parameters"]:
            try:
                releases.append(Release.from_json(parameter["Value"]))
            except (ValueError, TypeError, KeyError) as error:
                raise HangarError(
                    f"the release record {parameter['Name']} is not one hangar wrote: {error}",
                    hint="delete that SSM parameter, or fix its JSON",
                ) from error
    return sorted(releases, key=lambda r: (r.deployed_at, r.sha))


def record(ssm: Any, stage: str, release: Release) -> str:
    """Store `release`; returns the parameter's name."""
    name = release.parameter_name(stage)
    value = release.to_json()
    if len(value.encode()) > MAX_RECORD_BYTES:
        raise HangarError(f"the release record of {release.sha} is over {MAX_RECORD_BYTES} bytes")
    ssm.put_parameter(
        Name=name,
        Value=value,
        Type="String",
        Description=f"{release.sha} deployed by {release.deployed_by}"[:1024],
        Overwrite=False,
    )
    return name


def new_release(
    sha: str,
    digest: str,
    *,
    scanned: bool,
    environ: Mapping[str, str],
    migrations: Mapping[str, str] | None = None,
    rollback: bool = False,
) -> Release:
    """A release deployed now, of the checked-out commit's migrations unless told otherwise."""
    by, run_url = deployer(environ)
    return Release(
        sha=sha,
        digest=digest,
        deployed_at=now(),
        deployed_by=by,
        run_url=run_url,
        scanned=scanned,
        migrations=migration_heads(contract().project_path)
        if migrations is None
        else dict(migrations),
        rollback=rollback,
    )


# --- `hangar releases` ---------------------------------------------------------------------------


def render(releases: Sequence[Release]) -> str:
    """Newest first; the first is what runs now."""
    rows = [["DEPLOYED (UTC)", "SHA", "DIGEST", "SCANNED", "BY", "RUN"]]
    for index, release in enumerate(reversed(releases)):
        note = " (rollback)" if release.rollback else ""
        rows.append(
            [
                release.when.strftime("%Y-%m-%d %H:%M:%S") + (" *" if index == 0 else ""),
                release.sha[:12],
                short_digest(release.digest),
                "yes" if release.scanned else "no",
                release.deployed_by + note,
                release.run_url or "-",
            ]
        )
    return table(rows) + "\n* running now"


def run_releases(args: argparse.Namespace) -> int:
    access = StageAccess.resolve(args.stage, "releases", os.environ)
    releases = load(access.client("ssm"), access.stage)
    current(releases, access.stage)
    info(f"Releases of stage {access.stage} ({access.where}), newest first:")
    info(render(releases))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "releases",
        help="list what was deployed to a stage: SHA, digest, when, by whom (SSM)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--stage", help=f"one of {', '.join(STAGES)} (required)")
    parser.set_defaults(func=run_releases)
