"""`hangar stage-logs`: JSON lines pretty-printed, durations parsed, each line followed once."""

import json
from typing import Any

import pytest

from hangar.core.errors import HangarError
from hangar.deploy import stage_logs

AT = 1_796_558_400_000  # 2026-12-06 12:00:00 UTC
STREAM = "web/app/0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def event(message: str, *, at: int = AT, event_id: str = "1") -> dict[str, Any]:
    return {"timestamp": at, "message": message, "logStreamName": STREAM, "eventId": event_id}


def test_a_json_line_becomes_time_stream_level_logger_message_and_extras() -> None:
    line = json.dumps(
        {
            "time": "2026-12-06T12:00:00.123Z",
            "level": "warning",
            "logger": "shop.views",
            "message": "upload refused",
            "request_id": "r-1",
            "size": 12,
        }
    )
    assert stage_logs.format_event(event(line)) == (
        "2026-12-06 12:00:00 web/0f1e2d3c  WARNING shop.views: upload refused"
        "  request_id=r-1 size=12"
    )


def test_the_standard_library_names_work_too() -> None:
    line = json.dumps({"levelname": "ERROR", "name": "django.request", "msg": "boom"})
    assert stage_logs.format_event(event(line)).endswith("ERROR   django.request: boom")


@pytest.mark.parametrize("text", ["gunicorn booting worker 7", "[1, 2]", "{not json"])
def test_anything_else_is_printed_as_it_came(text: str) -> None:
    assert (
        stage_logs.format_event(event(text + "\n")) == f"2026-12-06 12:00:00 web/0f1e2d3c  {text}"
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)]
)
def test_since_takes_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert stage_logs.parse_since(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["10", "ten minutes", "-5m", "5w"])
def test_since_refuses_anything_else_in_one_line(text: str) -> None:
    with pytest.raises(HangarError, match="is not a duration"):
        stage_logs.parse_since(text)


def test_following_shows_each_event_once_and_waits_longer_while_nothing_comes() -> None:
    stored = [event("one", event_id="1")]
    polls: list[int] = []
    waits: list[float] = []
    shown: list[str] = []

    def fetch(from_ms: int) -> list[dict[str, Any]]:
        polls.append(from_ms)
        if len(polls) == 4:  # arrives late, stamped before the newest event seen
            stored.append(event("late", at=AT - 2000, event_id="3"))
        if len(polls) == 2:
            stored.append(event("two", at=AT + 1, event_id="2"))
        return [e for e in stored if e["timestamp"] >= from_ms]

    stage_logs.follow(
        fetch,
        lambda e: shown.append(e["message"]),
        start_ms=AT - 60_000,
        sleep=waits.append,
        rounds=8,
    )

    assert shown == ["one", "two", "late"]
    assert waits[:4] == [1.0, 1.0, 2.0, 1.0]
    assert max(waits) == stage_logs.POLL_MAX_SECONDS
    assert polls[-1] == AT + 1 - stage_logs.LATE_MS
