import json
import logging
import logging.config
import re
import sys

import pytest

from config.json_logging import JsonFormatter
from config.request_log import RequestIdFilter, current_request_id

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("logged_in")]


def request_log_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "hangar.request"]


def test_request_is_logged_with_its_fields_and_id(client, caplog):
    caplog.set_level(logging.INFO, logger="hangar.request")

    response = client.get("/documents/", HTTP_X_REQUEST_ID="req-123")

    assert response["X-Request-ID"] == "req-123"
    [record] = request_log_records(caplog)
    assert record.method == "GET"
    assert record.path == "/documents/"
    assert record.status == 200
    assert record.duration_ms >= 0
    assert record.request_id == "req-123"
    assert record.levelno == logging.INFO


def test_alb_trace_id_is_used_when_there_is_no_request_id(client):
    trace = "Root=1-67891233-abcdef012345678912345678;Sampled=1"

    response = client.get("/documents/", HTTP_X_AMZN_TRACE_ID=trace)

    assert response["X-Request-ID"] == trace


@pytest.mark.parametrize("incoming", ["bad\nid", "x" * 201, ""])
def test_unusable_incoming_ids_are_replaced(client, incoming):
    response = client.get("/documents/", HTTP_X_REQUEST_ID=incoming)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_client_errors_log_as_warnings_and_keep_no_query_string(client, caplog):
    client.get("/nothing-here/?token=secret")

    [record] = request_log_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.status == 404
    assert "secret" not in record.getMessage()


def text_formatter(settings) -> logging.Formatter:
    """The development log format, built from the settings' LOGGING as dictConfig builds it."""
    config = settings.LOGGING["formatters"]["text"]
    return logging.config.DictConfigurator({}).configure_formatter(dict(config))


def test_a_path_cannot_forge_a_line_in_the_text_log(client, caplog, settings):
    forged = "2026-01-01 00:00:00,000 INFO    hangar.request [x] GET /admin/ 200 1.0ms"

    client.get(f"/nothing/%0D%0A{forged}%0A%1B[2J%E2%80%A8")

    [record] = request_log_records(caplog)
    assert "\n" in record.path  # the record keeps the path as requested (JSON escapes it)
    line = text_formatter(settings).format(record)
    assert line.splitlines() == [line]
    assert "\x1b" not in line
    assert "/nothing/\\r\\n2026-01-01 00:00:00,000 INFO" in line
    assert "\\n\\x1b[2J\\u2028" in line


def test_the_text_log_keeps_printable_text_and_tracebacks_as_they_are(settings):
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "upload of %s failed", ("café.txt",), sys.exc_info()
        )
    record.request_id = "-"

    line = text_formatter(settings).format(record)

    assert "upload of café.txt failed" in line
    assert "Traceback (most recent call last):\n" in line


def test_json_formatter_writes_one_object_with_extra_fields():
    record = logging.makeLogRecord(
        {"name": "hangar.request", "levelname": "INFO", "msg": "GET %s", "args": ("/x",)}
    )
    record.status = 200
    record.request_id = "abc"

    line = JsonFormatter().format(record)

    assert "\n" not in line
    payload = json.loads(line)
    assert payload["message"] == "GET /x"
    assert payload["level"] == "INFO"
    assert payload["logger"] == "hangar.request"
    assert payload["status"] == 200
    assert payload["request_id"] == "abc"
    assert payload["time"].endswith("+00:00")


def test_json_formatter_includes_the_traceback():
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )

    payload = json.loads(JsonFormatter().format(record))

    assert "ValueError: broken" in payload["exc_info"]


def test_filter_stamps_records_with_the_current_request_id():
    record = logging.makeLogRecord({})
    token = current_request_id.set("req-9")
    try:
        RequestIdFilter().filter(record)
    finally:
        current_request_id.reset(token)

    assert record.request_id == "req-9"
    outside = logging.makeLogRecord({})
    RequestIdFilter().filter(outside)
    assert outside.request_id == "-"


def test_json_formatter_keeps_the_stack_info():
    record = logging.getLogger("t").makeRecord(
        "t",
        logging.WARNING,
        __file__,
        1,
        "where am I",
        (),
        None,
        sinfo="Stack (most recent call last):\n  here",
    )

    payload = json.loads(JsonFormatter().format(record))

    assert payload["stack_info"] == "Stack (most recent call last):\n  here"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_json_formatter_never_writes_bare_nan_or_infinity(value):
    record = logging.makeLogRecord({"name": "t", "msg": "ratio"})
    record.ratio = value
    record.samples = [1.5, value]

    line = JsonFormatter().format(record)

    # json.loads would accept NaN/Infinity; a strict parser (CloudWatch, jq) would not.
    payload = json.loads(line, parse_constant=lambda name: pytest.fail(f"bare {name} in {line}"))
    assert payload["ratio"] == str(value)
    assert payload["samples"] == [1.5, str(value)]
