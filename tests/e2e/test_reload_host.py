"""Host-mode hot reload: a saved view is served by hangar.devloop.devserver's next child, under
debugpy.

Runs the dev server exactly as `make dev` starts it (hangar.devloop.debug_server's command) on a
private copy of the project with a probe view (hangar.devloop.reload_probe), so the checkout is
never edited.
"""

import threading
import time
import urllib.request
import uuid

import pytest

from hangar.devloop.reload_probe import PROBE_VIEW, probe_server

pytestmark = [pytest.mark.e2e, pytest.mark.without_docker]


def test_saved_view_is_served_after_a_reload_by_the_forking_devserver() -> None:
    with probe_server("devserver", debug=True) as server:
        before = server.answer()
        seconds = server.change(timeout=120)
        after = server.answer()
        log = server.log.read_text()
    assert before
    assert after != before
    assert "reload_probe_view.py changed, reloading." in log
    # Django's autoreloader would say "Watching for file changes with ...": it must not run.
    assert "Watching for file changes" not in log
    assert log.count("Starting WSGI development server") == 2, "one server per save, plus the first"
    print(f"file save → new response: {seconds:.2f}s")


def test_two_saves_in_a_row_both_land() -> None:
    """The reloader keeps watching the newly started server's files, not just the first one's."""
    with probe_server("devserver") as server:
        server.change(timeout=120)
        server.change(timeout=120)
        assert server.log.read_text().count("changed, reloading.") == 2


def test_requests_made_during_a_reload_are_answered_not_refused() -> None:
    """The parent holds the listening socket: a request during the swap waits for the new child."""
    with probe_server("devserver") as server:
        token = uuid.uuid4().hex
        # Replaced in one step, as editors save: a reload must never import a half-written file.
        saved = server.app_dir / "reload_probe_view.py.new"
        saved.write_text(PROBE_VIEW.format(token=token))
        saved.replace(server.app_dir / "reload_probe_view.py")
        answers = []
        deadline = time.monotonic() + 60
        while token not in answers:
            assert time.monotonic() < deadline, f"{token} never served; see {server.log}"
            # No catching here: a refused or dropped connection fails the test.
            with urllib.request.urlopen(server.url, timeout=30) as response:  # noqa: S310
                answers.append(response.read().decode())
    assert answers[0] != token, "answered with the new code before the reload: nothing measured"


SLOW_PROBE_VIEW = """import time

from django.http import HttpResponse


def probe(request):
    time.sleep({seconds})
    return HttpResponse({token!r}, content_type="text/plain")
"""


def test_a_request_being_answered_during_a_save_gets_its_answer() -> None:
    """The old child finishes what it is answering beside the new one: a slow request (longer
    than a loaded machine's swap) is answered by the old code, never reset."""
    with probe_server("devserver") as server:
        slow = uuid.uuid4().hex
        view = server.app_dir / "reload_probe_view.py"
        view.write_text(SLOW_PROBE_VIEW.format(seconds=3, token=slow))
        server.wait_for(slow, timeout=120)
        in_flight: list[str | BaseException] = []

        def ask() -> None:
            try:
                with urllib.request.urlopen(server.url, timeout=60) as response:  # noqa: S310
                    in_flight.append(response.read().decode())
            except OSError as error:
                in_flight.append(error)

        asking = threading.Thread(target=ask)
        asking.start()
        time.sleep(0.5)  # the request is now in the old child's view, asleep
        fast = uuid.uuid4().hex
        saved = server.app_dir / "reload_probe_view.py.new"
        saved.write_text(PROBE_VIEW.format(token=fast))
        saved.replace(view)
        server.wait_for(fast, timeout=60)
        asking.join(60)
    assert in_flight == [slow], f"the request in flight during the save got {in_flight}"


def test_a_broken_save_shows_the_error_and_the_next_save_serves_again() -> None:
    with probe_server("devserver") as server:
        view = server.app_dir / "reload_probe_view.py"
        view.write_text("this is not python(\n")
        deadline = time.monotonic() + 60
        while "starts again on the next save" not in server.log.read_text():
            assert time.monotonic() < deadline, f"the broken server was not reported: {server.log}"
            time.sleep(0.1)
        assert server.process.poll() is None, "the watching parent died with its child"
        token = uuid.uuid4().hex
        view.write_text(PROBE_VIEW.format(token=token))
        server.wait_for(token, timeout=60)
        log = server.log.read_text()
    assert "SyntaxError" in log
