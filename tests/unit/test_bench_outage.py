"""`make bench`'s dependency outage: the load against a loopback stand-in for the web task, and
the figures from a timeline (the measurement itself needs Docker: the runtime task, LocalStack)."""

import threading
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from hangar.bench import outage
from hangar.bench import run as bench
from hangar.bench.outage import OutagePlan, Probe, Timeline, Upload
from hangar.core.errors import HangarError

SHORT = OutagePlan(
    clients=3,
    outage_seconds=1.0,
    warm_seconds=0.3,
    recovery_limit=30,
    client_timeout=10,
    pause_after_refusal=0.02,
    probe_interval=0.05,
)


class StandIn(BaseHTTPRequestHandler):
    """The web task as the breaker makes it answer: uploads 503 + Retry-After while `down`."""

    down: ClassVar[threading.Event] = threading.Event()
    hosts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/files/":
            self._answer(404, {})
        elif self.down.is_set():
            self._answer(503, {"Retry-After": "5"})
        else:
            self._answer(201, {})

    def do_GET(self) -> None:
        self.hosts.append(self.headers["Host"])
        self._answer(200 if self.path == "/healthz" else 404, {})

    def _answer(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": "0"}.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_load_records_what_clients_and_the_prober_get_through_an_outage(serve_http):
    url = f"http://127.0.0.1:{serve_http(StandIn)}"

    timeline = outage.measure(
        url, "/files/", {"Host": "localhost"}, StandIn.down.set, StandIn.down.clear, SHORT
    )
    figures = {figure.name: figure for figure in outage.figures(timeline, SHORT)}

    during = [u for u in timeline.uploads if timeline.paused <= u.started < timeline.resuming]
    assert {u.status for u in during} >= {503}
    assert figures["outage: uploads answered 503 with Retry-After"].samples == [100.0]
    assert figures["outage: /healthz answers other than 200 during the pause"].samples == [0.0]
    assert set(StandIn.hosts) == {outage.PRIVATE_IP_HOST}, "probes as the ALB sends them"
    assert any(u.status == 201 and u.finished >= timeline.resumed for u in timeline.uploads)


def upload(started: float, seconds: float, status: int = 503, retry_after: str | None = "5"):
    return Upload(started, seconds, status, retry_after)


def test_the_figures_judge_only_what_happened_inside_the_outage():
    paused, resuming, resumed = 100.0, 125.0, 125.2
    inside = [upload(101 + n * 0.1, 0.01) for n in range(196)]
    inside += [upload(101, 10.0), upload(102, 10.0), upload(103, 10.0)]  # the first timeouts
    inside += [upload(110, 0.02, status=503, retry_after=None)]
    straddling = [upload(99.0, 5.0), upload(124.9, 0.5, status=201, retry_after=None)]
    after = [upload(125.3, 0.1, status=201, retry_after=None)]  # done 0.2 s after the return
    probes = [Probe(100 + n, 0.003, 200) for n in range(25)] + [Probe(120.5, 5.0, 0)]
    timeline = Timeline(paused, resuming, resumed, [*inside, *straddling, *after], probes)

    p99, refused, recovered, health = outage.figures(timeline, OutagePlan())

    assert (p99.samples, p99.verdict()) == ([10.0], "**missed**")  # 3 slow of 200 is 1.5 %
    assert "200 uploads started and ended in the pause" in p99.note
    assert (refused.samples, refused.verdict()) == ([99.5], "**missed**")
    assert recovered.samples == [pytest.approx(0.2)]
    assert recovered.verdict() == "met"
    assert (health.samples, health.verdict()) == ([1.0], "**missed**")
    assert "slowest 5000 ms" in health.note


def test_no_success_after_the_return_is_an_error_not_a_figure():
    timeline = Timeline(0.0, 25.0, 25.1, [upload(1, 0.01)], [])

    with pytest.raises(HangarError, match="no upload succeeded within 60 s"):
        outage.figures(timeline, OutagePlan())


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [([1.0] * 99 + [9.0], 99, 1.0), ([1.0] * 98 + [9.0] * 2, 99, 9.0), ([3.0], 99, 3.0)],
)
def test_percentile_is_the_nearest_rank(values, percent, expected):
    assert outage.percentile(values, percent) == expected


def test_the_outage_is_a_full_run_measurement():
    [measurement] = [m for m in bench.MEASUREMENTS if m.name == "outage"]

    assert measurement.measure is bench.dependency_outage
    assert not measurement.in_quick_mode
