"""The pure parts of `hangar bench`: wrk and docker output, targets, the report, the run loop."""

import argparse
from pathlib import Path

import pytest

from hangar.bench import run as bench
from hangar.bench.report import Figure, Target, render, repeat
from hangar.bench.run import Bench, Measurement, NotMeasured, Plan
from hangar.core.errors import HangarError

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:40123/items/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    41.20ms   12.01ms 130.22ms   71.04%
    Req/Sec   605.31     80.12   780.00     68.33%
  3612 requests in 3.01s, 9.87MB read
  Non-2xx or 3xx responses: 2
Requests/sec:   1200.00
Transfer/sec:      3.28MB
hangar-bench requests=3612 duration_us=3010000 p50_us=40250 p99_us=98765 non_2xx=7 connect=0 read=3 write=0 timeout=1
"""  # noqa: E501 - wrk's line as printed


def test_parse_wrk_reads_the_script_line_not_the_rounded_summary() -> None:
    result = bench.parse_wrk(WRK_OUTPUT)
    assert result.requests == 3612
    assert result.requests_per_second == pytest.approx(3612 / 3.01)
    assert result.p50_ms == pytest.approx(40.25)
    assert result.p99_ms == pytest.approx(98.765)
    # The script counts every status outside 2xx; wrk's own line ignores 3xx and said 2.
    assert result.non_2xx == 7
    assert result.socket_errors == 4


def test_parse_wrk_without_the_result_line_shows_what_wrk_said() -> None:
    with pytest.raises(HangarError, match=r"unable to connect to 127\.0\.0\.1:1"):
        bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_parse_wrk_with_no_completed_request_is_an_error() -> None:
    line = (
        "hangar-bench requests=0 duration_us=3000000 p50_us=0 p99_us=0 non_2xx=0 "
        "connect=50 read=0 write=0 timeout=0\n"
    )
    with pytest.raises(HangarError, match="completed no request"):
        bench.parse_wrk(line)


def test_the_lua_script_prints_every_field_parse_wrk_reads() -> None:
    for name in ("requests", "duration_us", "p50_us", "p99_us", "non_2xx", "timeout"):
        assert f"{name}=%.0f" in bench.WRK_SCRIPT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("52.3MiB / 23.47GiB", 52.3 * 2**20),
        ("1.5GiB / 2GiB", 1.5 * 2**30),
        ("512kB / 1GB", 512_000),
        ("0B / 0B", 0),
    ],
)
def test_parse_memory_usage(text: str, expected: float) -> None:
    assert bench.parse_memory_usage(text) == pytest.approx(expected)


def test_parse_size_rejects_what_docker_never_prints() -> None:
    with pytest.raises(HangarError, match="not a size"):
        bench.parse_size("--")


@pytest.mark.parametrize(
    ("target", "value", "met"),
    [
        (Target("<=", 3), 3.0, True),
        (Target("<=", 3), 3.01, False),
        (Target(">=", 800), 800, True),
        (Target(">=", 800), 799.9, False),
        (Target("<=", 0), 0, True),
        (Target("<=", 0), 1, False),
    ],
)
def test_target_verdict_uses_the_median(target: Target, value: float, met: bool) -> None:
    # The outliers on either side must not decide the verdict: only the median does.
    figure = Figure("x", "s", [value, value - 100, value + 100], target)
    assert figure.verdict() == ("met" if met else "**missed**")


def test_a_figure_without_target_says_it_is_not_judged() -> None:
    assert Figure("x", "s", [1.0]).verdict() == "not judged"
    assert Figure("x", "s", []).verdict() == ""


def test_ratio_figure_divides_the_medians() -> None:
    stat = Figure("stat", "s", [1.1, 1.0, 5.0])
    watchfiles = Figure("watchfiles", "s", [0.25, 0.2, 0.3])
    ratio = bench.ratio_figure("ratio", stat, watchfiles, Target(">=", 2))
    assert ratio.samples == [pytest.approx(1.1 / 0.25)]
    assert ratio.verdict() == "met"
    slow = bench.ratio_figure("ratio", watchfiles, stat, Target(">=", 2))
    assert slow.verdict() == "**missed**"


def test_repeat_discards_the_warmup_runs() -> None:
    calls = iter(range(10))
    assert repeat(3, 2, lambda: next(calls)) == [2, 3, 4]


def test_render_lists_figures_and_what_was_not_measured() -> None:
    figures = [
        Figure("LocalStack host mode: start → healthy", "s", [1.2, 1.0, 1.5], Target("<=", 3)),
        Figure("runtime /healthz: requests/s", "req/s", [700.0, 650.0, 720.0], Target(">=", 800)),
        Figure("runtime /healthz: p50 latency", "ms", [38.0]),
        Figure("empty", "s", []),
    ]
    report = render(
        figures,
        commit="abc1234",
        command="make bench",
        runs=3,
        warmup=1,
        skipped=["LocalStack container start/stop: no Docker engine answers"],
    )
    assert "| LocalStack host mode: start → healthy | 1.2 | 1 | 1.5 | s | ≤ 3 | met |" in report
    assert (
        "| runtime /healthz: requests/s | 700 | 650 | 720 | req/s | ≥ 800 | **missed** |" in report
    )
    assert "| runtime /healthz: p50 latency | 38 | 38 | 38 | ms | none | not judged |" in report
    assert "empty" not in report
    assert "- Commit: abc1234\n" in report
    assert "- Reproduce: `make bench`" in report
    assert "## Not measured in this run\n\n- LocalStack container start/stop: no Docker" in report


def test_process_tree_rss_sums_the_process_and_its_descendants(tmp_path: Path) -> None:
    def process(pid: int, parent: int, rss_kib: int | None) -> None:
        directory = tmp_path / str(pid)
        directory.mkdir()
        # A command name with a space and a parenthesis, as /proc/<pid>/stat allows.
        (directory / "stat").write_text(f"{pid} (python (main)) S {parent} 1 1 0\n")
        rss = f"VmRSS:\t{rss_kib} kB\n" if rss_kib is not None else ""
        (directory / "status").write_text(f"Name:\tpython\n{rss}Threads:\t1\n")

    process(100, 1, 1000)  # LocalStack
    process(101, 100, 200)  # its child
    process(102, 101, 30)  # a grandchild
    process(103, 100, None)  # a zombie child: no VmRSS line
    process(200, 1, 99999)  # unrelated
    assert bench.process_tree_rss(100, proc=tmp_path) == 1230 * 1024


def test_pytest_summary_is_its_line_without_decoration_whatever_follows() -> None:
    output = (
        "....\n\n========= 304 passed, 2 skipped in 64.13s (0:01:04) =========\n"
        "hangar: using files in .hangar/media\nmake[1]: Leaving directory '/work/main'\n"
    )
    assert bench.pytest_summary(output) == "304 passed, 2 skipped in 64.13s (0:01:04)"
    assert bench.pytest_summary("make: *** [test] Error 2\n") == "no pytest summary in the output"


def test_preserved_restores_and_removes_files(tmp_path: Path) -> None:
    kept, absent = tmp_path / "local.env", tmp_path / "outputs.json"
    kept.write_text("ITEMS_BUCKET=developers-bucket\n")
    with bench.preserved(kept, absent):
        kept.write_text("ITEMS_BUCKET=bench-bucket\n")
        absent.write_text("{}")
    assert kept.read_text() == "ITEMS_BUCKET=developers-bucket\n"
    assert not absent.exists()


def _measurement(name: str, outcome: Exception | None, quick_ok: bool = True) -> Measurement:
    def measure(_: Bench) -> list[Figure]:
        if outcome is not None:
            raise outcome
        return [Figure(name, "s", [1.0])]

    return Measurement(name, f"title {name}", measure, in_quick_mode=quick_ok)


def test_a_failed_measurement_does_not_stop_the_others() -> None:
    selected = [
        _measurement("broken", RuntimeError("LocalStack exited\nlog line")),
        _measurement("no-docker", NotMeasured("no Docker engine answers")),
        _measurement("fine", None),
    ]
    figures, not_measured, failed = bench.run_measurements(Bench(Plan.make(False)), selected)
    assert [figure.name for figure in figures] == ["fine"]
    assert not_measured == [
        "title broken: failed: LocalStack exited / log line",
        "title no-docker: no Docker engine answers",
    ]
    assert failed


def test_a_missing_engine_alone_is_not_a_failure() -> None:
    selected = [_measurement("no-docker", NotMeasured("no Docker engine answers"))]
    _, _, failed = bench.run_measurements(Bench(Plan.make(False)), selected)
    assert not failed


def test_quick_mode_skips_what_it_does_not_run_and_says_so() -> None:
    selected = [_measurement("tests-e2e", None, quick_ok=False), _measurement("fine", None)]
    figures, not_measured, _ = bench.run_measurements(Bench(Plan.make(True)), selected)
    assert [figure.name for figure in figures] == ["fine"]
    assert not_measured == ["title tests-e2e: skipped in quick mode"]


def test_quick_mode_runs_once_without_warmup_and_shorter_load() -> None:
    quick, full = Plan.make(True), Plan.make(False)
    assert (quick.runs, quick.warmup) == (1, 0)
    assert (full.runs, full.warmup) == (5, 1)
    assert quick.load_seconds < full.load_seconds == 30


def test_only_quick_and_partial_runs_leave_the_docs_alone() -> None:
    assert bench.report_path(quick=False, only=None) == bench.REPORT
    assert bench.report_path(quick=True, only=None) == bench.QUICK_REPORT
    assert bench.report_path(quick=False, only=["hot-reload"]) == bench.PARTIAL_REPORT
    assert bench.report_path(quick=False, only=list(bench.NAMES)) == bench.REPORT


def test_reproduce_command_names_what_ran() -> None:
    assert bench.reproduce_command(False, None) == "make bench"
    assert bench.reproduce_command(True, None) == "make bench QUICK=1"
    assert bench.reproduce_command(True, ["load"]) == "uv run hangar bench --quick --only load"


def test_only_rejects_an_unknown_measurement(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="hangar")
    bench.register(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--only", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def _wrk(rate: float, p99_ms: float, non_2xx: int = 0) -> bench.WrkResult:
    return bench.WrkResult(
        requests=int(rate * 10),
        seconds=10,
        p50_ms=1,
        p99_ms=p99_ms,
        non_2xx=non_2xx,
        socket_errors=0,
    )


def test_capacity_is_the_best_served_rate_before_p99_leaves_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench, "CAPACITY_RATES", (10, 20, 40, 60, 80))
    steps = {10: _wrk(10, 20), 20: _wrk(20, 40), 40: _wrk(39, 90), 60: _wrk(60, 400)}
    offered: list[float] = []

    def measure(rate: float) -> bench.WrkResult:
        offered.append(rate)
        return steps[int(rate)]

    rate, result, stopped = bench.highest_rate_within(100, measure)

    assert (rate, result) == (39, steps[40])
    assert offered == [10, 20, 40, 60]  # no step after the bound was missed
    assert stopped == "at 60 req/s offered: 60 served, p99 400 ms, 0 non-2xx, 0 socket errors"


def test_a_failed_request_ends_the_capacity_search() -> None:
    rate, result, stopped = bench.highest_rate_within(100, lambda r: _wrk(r, 10, non_2xx=3))

    assert (rate, result) == (0.0, None)
    assert "3 non-2xx" in stopped


def test_pacing_offers_the_rate_over_all_connections() -> None:
    assert bench.pause_for_rate(160, connections=16) == 100.0
    assert [bench.connections_for_rate(r) for r in (1, 5, 10, 40, 960)] == [1, 5, 10, 16, 16]


def test_a_new_report_carries_over_what_was_measured_outside_make_bench(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    assert bench.measured_elsewhere(report) == ""
    kept = f"{bench.MEASURED_ELSEWHERE}\n\n| devcontainer up | 300 s |\n"
    report.write_text(f"# Benchmarks\n\n| old table |\n\n{kept}")
    assert bench.measured_elsewhere(report) == f"\n{kept}"
    report.write_text("# Benchmarks\n\n| old table |\n")
    assert bench.measured_elsewhere(report) == ""
