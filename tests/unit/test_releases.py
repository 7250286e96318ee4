"""Release records, the rollback's choice of release and its migration check
(hangar.deploy.releases, hangar.deploy.rollback)."""

from pathlib import Path

import pytest

from hangar.core.errors import HangarError
from hangar.deploy import releases
from hangar.deploy.releases import Release
from hangar.deploy.rollback import check_scanned

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40


def release(
    sha: str, at: str, *, digest: str = "", rollback: bool = False, **migrations: str
) -> Release:
    return Release(
        sha=sha,
        digest=digest or f"sha256:{sha[0] * 64}",
        deployed_at=at,
        deployed_by="alice",
        scanned=True,
        migrations=migrations or {"orders": "0002_tags"},
        rollback=rollback,
    )


A = release(SHA_A, "20261201T100000Z", orders="0001_initial")
B = release(SHA_B, "20261202T100000Z", orders="0002_tags")
C = release(SHA_C, "20261203T100000Z", orders="0002_tags", billing="0001_initial")


def test_a_record_survives_the_round_trip_through_its_json() -> None:
    assert Release.from_json(C.to_json()) == C
    assert C.parameter_name("staging") == f"/hangar/staging/releases/20261203T100000Z-{SHA_C}"


def test_migration_heads_are_the_highest_numbered_migration_of_each_app(tmp_path: Path) -> None:
    for name in ("0001_initial.py", "0002_tags.py", "0010_later.py", "__init__.py", "helpers.py"):
        (tmp_path / "orders" / "migrations").mkdir(parents=True, exist_ok=True)
        (tmp_path / "orders" / "migrations" / name).write_text("")
    (tmp_path / "billing" / "migrations").mkdir(parents=True)
    (tmp_path / "billing" / "migrations" / "0001_initial.py").write_text("")
    (tmp_path / "config").mkdir()

    assert releases.migration_heads(tmp_path) == {
        "billing": "0001_initial",
        "orders": "0010_later",
    }


def test_the_sample_apps_migrations_are_found() -> None:
    from hangar.core.contract import contract

    heads = releases.migration_heads(contract().project_path)
    assert heads
    assert all(migration[:4].isdigit() for migration in heads.values())


def test_the_default_target_is_the_newest_release_with_another_image() -> None:
    assert releases.rollback_target([A, B, C], "staging", None) == B
    # B redeployed after C: the release before it that runs something else is C.
    again = release(SHA_B, "20261204T100000Z", rollback=True)
    assert releases.rollback_target([A, B, C, again], "staging", None) == C


def test_a_sha_prefix_picks_that_release() -> None:
    assert releases.rollback_target([A, B, C], "staging", "aaaaaaa") == A
    assert releases.rollback_target([A, B, C], "staging", SHA_B.upper()) == B


@pytest.mark.parametrize(
    ("history", "to", "message"),
    [
        ([], None, "stage staging has no recorded releases"),
        ([A], None, "there is no earlier release"),
        ([A, B], "d" * 7, f"no release of stage staging has SHA {'d' * 7}"),
        ([A, B], "main", "is not a git SHA"),
        ([A, B], "b" * 12, "already runs bbbbbbbbbbbb"),
    ],
)
def test_refusals_say_why_in_one_line(history: list[Release], to: str | None, message: str) -> None:
    with pytest.raises(HangarError, match=message) as raised:
        releases.rollback_target(history, "staging", to)
    assert "\n" not in raised.value.message


def test_an_ambiguous_prefix_is_refused() -> None:
    twins = [
        release("abc1234" + "0" * 33, "20261201T100000Z"),
        release("abc1234" + "1" * 33, "20261202T100000Z"),
    ]
    with pytest.raises(HangarError, match="matches several releases"):
        releases.rollback_target([*twins, C], "staging", "abc1234")


def test_the_database_holds_the_newest_migration_of_every_release_even_after_a_rollback() -> None:
    rolled_back = release(SHA_A, "20261204T100000Z", rollback=True, orders="0001_initial")
    assert releases.database_heads([A, B, C, rolled_back]) == {
        "orders": "0002_tags",
        "billing": "0001_initial",
    }


def test_a_target_behind_the_database_is_refused_and_one_level_with_it_is_not() -> None:
    with pytest.raises(HangarError, match=r"billing 0001_initial \(the image has no migration"):
        releases.check_migrations(B, [A, B, C], "staging")
    with pytest.raises(HangarError, match=r"orders 0002_tags \(the image has 0001_initial"):
        releases.check_migrations(A, [A, B], "staging")
    newer = release("d" * 40, "20261205T100000Z", orders="0003_more", billing="0001_initial")
    releases.check_migrations(C, [A, B, C], "staging")
    releases.check_migrations(newer, [A, B, C], "staging")


def test_a_different_migration_with_the_same_number_is_behind() -> None:
    other = release("d" * 40, "20261205T100000Z", orders="0002_other")
    assert releases.missing_migrations(other, {"orders": "0002_tags"})


def test_an_unscanned_image_goes_back_only_to_the_local_stage() -> None:
    laptop = Release(SHA_A, "sha256:" + "a" * 64, "20261201T100000Z", "bob", scanned=False)
    with pytest.raises(HangarError, match="without CI's scan report"):
        check_scanned(laptop, "prod")
    check_scanned(laptop, "local")


def test_the_deployer_is_the_github_actor_and_run_in_actions_else_the_user() -> None:
    actions = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_RUN_ID": "42",
        "GITHUB_REPOSITORY": "acme/hangar",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    assert releases.deployer(actions) == (
        "octocat (GitHub Actions)",
        "https://github.com/acme/hangar/actions/runs/42",
    )
    by, run = releases.deployer({})
    assert by
    assert run == ""


def test_the_listing_is_newest_first_and_marks_what_runs() -> None:
    lines = releases.render([A, B, C]).splitlines()
    assert lines[0].split()[:3] == ["DEPLOYED", "(UTC)", "SHA"]
    assert lines[1].startswith("2026-12-03 10:00:00 *")
    assert SHA_C[:12] in lines[1]
    assert SHA_A[:12] in lines[3]
    assert "*" not in lines[3]
