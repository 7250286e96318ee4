"""The sizing and timing rules of hangar.core.capacity, and the measured figures they rest on."""

import json

import pytest

from hangar.core import capacity
from hangar.core.contract import contract
from hangar.core.stages import STAGES


@pytest.mark.parametrize(
    ("cpu", "memory_mib", "processes"),
    [(256, 512, 1), (512, 1024, 1), (1024, 2048, 2), (2048, 4096, 4), (1024, 512, 2)],
)
def test_processes_follow_cpu_within_memory(cpu: int, memory_mib: int, processes: int) -> None:
    size = capacity.gunicorn_size(cpu, memory_mib)
    assert (size.processes, size.threads) == (processes, capacity.THREADS_PER_PROCESS)
    assert size.environment() == {
        "WEB_CONCURRENCY": str(processes),
        "GUNICORN_THREADS": str(capacity.THREADS_PER_PROCESS),
    }


def test_shutdown_steps_each_wait_for_the_longest_request() -> None:
    # Draining outlasts any request; gunicorn's graceful time too; SIGKILL comes after both.
    assert capacity.DEREGISTRATION_DELAY_SECONDS >= capacity.REQUEST_TIMEOUT_SECONDS
    assert capacity.GRACEFUL_TIMEOUT_SECONDS >= capacity.REQUEST_TIMEOUT_SECONDS
    assert capacity.GRACEFUL_TIMEOUT_SECONDS < capacity.STOP_TIMEOUT_SECONDS <= 120
    assert capacity.WORKER_STOP_TIMEOUT_SECONDS <= 120


def test_every_stage_web_size_has_a_capacity_measured_on_the_contracts_page() -> None:
    path = contract().capacity_path
    if path is None:
        return  # the checkout's web service scales on CPU alone (test_service_contract.py's bare)
    for config in STAGES.values():
        measured = capacity.measured_capacity(config.web_cpu, config.web_memory_mib, path)
        assert measured.requests_per_second > 0, config.name
        assert measured.measured, "the figure says when and how it was measured"


def test_the_target_is_the_measured_rate_less_headroom_per_minute() -> None:
    measured = capacity.MeasuredCapacity(
        cpu=256,
        memory_mib=512,
        requests_per_second=50.0,
        path="/items/",
        p99_bound_ms=250.0,
        measured="test",
    )
    assert measured.requests_per_target_per_minute == int(50 * (1 - capacity.HEADROOM) * 60)


def test_an_unmeasured_size_is_refused_with_how_to_measure_it(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = tmp_path / "capacity.json"
    figures.write_text(json.dumps({}))
    monkeypatch.setattr(capacity, "MEASURED_CAPACITY_FILE", figures)

    with pytest.raises(capacity.CapacityNotMeasured, match="hangar bench --only capacity"):
        capacity.measured_capacity(4096, 8192, "/")


def test_a_figure_measured_on_another_page_does_not_count(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = tmp_path / "capacity.json"
    figure = {"requests_per_second": 50.0, "path": "/a/", "p99_bound_ms": 1000.0, "measured": "x"}
    figures.write_text(json.dumps({capacity.size_key(256, 512): figure}))
    monkeypatch.setattr(capacity, "MEASURED_CAPACITY_FILE", figures)

    assert capacity.measured_capacity(256, 512, "/a/").requests_per_second == 50.0
    with pytest.raises(capacity.CapacityNotMeasured, match="no capacity measured on /b/"):
        capacity.measured_capacity(256, 512, "/b/")
