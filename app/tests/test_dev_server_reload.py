"""runserver restarts when `make deploy-local` rewrites .hangar/local.env (config.apps)."""

from pathlib import Path

from django.utils.autoreload import StatReloader, autoreload_started


def test_the_reloader_watches_the_env_file_even_before_it_exists(
    settings: object, tmp_path: Path
) -> None:
    """Through the signal runserver's reloader sends: proves the app is installed and wired."""
    env_file = tmp_path / ".hangar" / "local.env"
    settings.LOCAL_ENV_FILE = env_file  # type: ignore[attr-defined]
    reloader = StatReloader()
    assert env_file.resolve() not in set(reloader.watched_files())
    autoreload_started.send(sender=reloader)
    assert env_file.parent.is_dir(), "the directory must exist for a watcher to see the file"
    assert env_file.resolve() in set(reloader.watched_files())
