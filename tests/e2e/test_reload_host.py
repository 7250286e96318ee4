"""Hot reload in host mode: saving a view serves the new code, through watchfiles, under debugpy.

Runs the dev server exactly as `make dev` starts it (hangar.debug_server's command) on a private
copy of app/ with a probe view (hangar.reload_probe), so the checkout is never edited.
"""

import pytest

from hangar.reload_probe import probe_server

pytestmark = pytest.mark.e2e


def test_saved_view_is_served_after_reload_through_watchfiles() -> None:
    with probe_server("watchfiles", debug=True) as server:
        before = server.answer()
        seconds = server.change(timeout=120)
        after = server.answer()
        log = server.log.read_text()
    assert before
    assert after != before
    assert "reload_probe_view.py changed, reloading." in log
    assert "Watching for file changes with WatchfilesReloader" in log
    assert "StatReloader" not in log
    print(f"file save → new response: {seconds:.2f}s")


def test_two_saves_in_a_row_both_land() -> None:
    """The reloader keeps watching the newly started server's files, not just the first one's."""
    with probe_server("watchfiles") as server:
        server.change(timeout=120)
        server.change(timeout=120)
        assert server.log.read_text().count("changed, reloading.") == 2
