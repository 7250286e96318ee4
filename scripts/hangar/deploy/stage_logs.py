"""`hangar stage-logs` (`make logs STAGE=…`): a deployed stage's app logs from CloudWatch Logs.

Every task writes to the stage's app log group (the service stack's AppLogGroupName output), in
streams prefixed by what it runs. An app that logs one JSON object a line in production (time,
level, logger, message, then extra fields, as the sample does) has each printed as one readable
line, anything else as it came. `--follow` polls FilterLogEvents, waiting longer while nothing
arrives, never more than POLL_MAX_SECONDS.
"""

import argparse
import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hangar.core.console import info
from hangar.core.errors import HangarError
from hangar.core.stage_interface import APP_LOG_GROUP_NAME, LOG_STREAM_PREFIXES
from hangar.core.stages import STAGES
from hangar.deploy.stage_access import StageAccess, outputs, service_stack

SINCE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
POLL_MIN_SECONDS, POLL_MAX_SECONDS = 1.0, 10.0
LATE_MS = 10_000
TIME_KEYS = ("time", "timestamp", "asctime")
LEVEL_KEYS = ("level", "levelname")
LOGGER_KEYS = ("logger", "name")
MESSAGE_KEYS = ("message", "msg")


def parse_since(value: str) -> timedelta:
    match = SINCE.fullmatch(value.strip())
    if not match:
        raise HangarError(
            f"SINCE={value!r} is not a duration.",
            hint="give a number and a unit: 30s, 10m, 2h or 1d",
        )
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def _pop(fields: dict[str, Any], keys: Iterable[str]) -> str:
    for key in keys:
        if key in fields:
            return str(fields.pop(key))
    return ""


def _stream(name: str) -> str:
    """`web/<container>/<task id>` → `web/<first 8 of the task id>`."""
    parts = name.split("/")
    return f"{parts[0]}/{parts[-1][:8]}" if len(parts) > 1 else name


def format_event(event: Mapping[str, Any]) -> str:
    """One line: time, stream, level, logger, message, then the extra fields as key=value."""
    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    stream = _stream(event.get("logStreamName", ""))
    text = event["message"].rstrip("\n")
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        return f"{stamp} {stream}  {text}"
    fields = dict(fields)
    _pop(fields, TIME_KEYS)  # CloudWatch's own timestamp is the one every line shows
    level = _pop(fields, LEVEL_KEYS).upper() or "-"
    logger = _pop(fields, LOGGER_KEYS) or "-"
    message = _pop(fields, MESSAGE_KEYS)
    extra = " ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in fields.items()
    )
    return f"{stamp} {stream}  {level:<7} {logger}: {message}" + (f"  {extra}" if extra else "")


def log_group(access: StageAccess) -> str:
    group = outputs(service_stack(access)).get(APP_LOG_GROUP_NAME)
    if not group:
        raise HangarError(
            f"stage {access.stage}'s service stack has no {APP_LOG_GROUP_NAME} output.",
            hint=f"deploy the stage again: make deploy STAGE={access.stage}",
        )
    return group


def events(
    logs: Any, group: str, *, start_ms: int, prefix: str | None, pattern: str | None
) -> Iterator[dict[str, Any]]:
    """Every event from `start_ms` on, oldest first (FilterLogEvents, all pages)."""
    request: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if prefix:
        request["logStreamNamePrefix"] = prefix
    if pattern:
        request["filterPattern"] = pattern
    for page in logs.get_paginator("filter_log_events").paginate(**request):
        # LocalStack 4.14 ignores logStreamNamePrefix; CloudWatch applies it before this does.
        yield from (
            event
            for event in page.get("events", [])
            if event.get("logStreamName", "").startswith(prefix or "")
        )


def follow(
    fetch: Callable[[int], Iterable[dict[str, Any]]],
    show: Callable[[dict[str, Any]], None],
    *,
    start_ms: int,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> None:
    """Poll `fetch(from_ms)` and show each event once. Each poll reaches LATE_MS back, for events
    CloudWatch stores late; the wait doubles while nothing new comes (up to POLL_MAX_SECONDS) and
    drops back once something does. `rounds`: a test's bound."""
    seen: set[str] = set()
    newest = start_ms
    wait = POLL_MIN_SECONDS
    done = 0
    while rounds is None or done < rounds:
        fetched = list(fetch(max(start_ms, newest - LATE_MS)))
        new = [event for event in fetched if event["eventId"] not in seen]
        for event in new:
            show(event)
        newest = max([newest, *(event["timestamp"] for event in fetched)])
        seen = {e["eventId"] for e in fetched if e["timestamp"] >= newest - LATE_MS}
        wait = POLL_MIN_SECONDS if new else min(wait * 2, POLL_MAX_SECONDS)
        done += 1
        sleep(wait)


def run_stage_logs(args: argparse.Namespace) -> int:
    access = StageAccess.resolve(args.stage, "logs", os.environ)
    since = parse_since(args.since)
    group = log_group(access)
    logs = access.client("logs")
    start_ms = int((datetime.now(UTC) - since).timestamp() * 1000)
    # awslogs names a stream <prefix>/<container>/<task id>.
    prefix = f"{LOG_STREAM_PREFIXES[args.service]}/" if args.service else None
    what = f"{args.service or 'every'} task"
    info(
        f"{group} ({access.where}), {what}, since {args.since} ago"
        + (f", matching {args.filter!r}" if args.filter else "")
    )

    def fetch(start: int) -> Iterable[dict[str, Any]]:
        return events(logs, group, start_ms=start, prefix=prefix, pattern=args.filter)

    def show(event: dict[str, Any]) -> None:
        print(format_event(event), flush=True)

    if not args.follow:
        for event in fetch(start_ms):
            show(event)
        return 0
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how following ends
        follow(fetch, show, start_ms=start_ms)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stage-logs",
        help="a deployed stage's app logs from CloudWatch Logs, JSON lines pretty-printed",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--stage", help=f"one of {', '.join(STAGES)} (required)")
    parser.add_argument(
        "--service", choices=sorted(LOG_STREAM_PREFIXES), help="default: all of them"
    )
    parser.add_argument("--since", default="10m", help="how far back: 30s, 10m, 2h, 1d")
    parser.add_argument("--follow", action="store_true", help="keep polling for new lines")
    parser.add_argument("--filter", help="a CloudWatch Logs filter pattern, e.g. ERROR")
    parser.set_defaults(func=run_stage_logs)
