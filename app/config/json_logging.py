"""One JSON object per log line, for CloudWatch Logs Insights in production.

python-json-logger does the formatting (extra= fields, exc_info, stack_info, objects such as the
request Django attaches); this module only fixes the field names and keeps every line valid JSON.
"""

import json
import math
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

FIELDS = "{levelname}{name}{message}"
RENAMED = {"levelname": "level", "name": "logger"}


def _finite(value: Any) -> Any:
    """`value` with NaN and ±Infinity as strings: json.dumps would write them bare (not JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def dumps(payload: Any, **kwargs: Any) -> str:
    try:
        return json.dumps(payload, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(_finite(payload), allow_nan=False, **kwargs)


class JsonFormatter(_LibraryJsonFormatter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            FIELDS,
            style="{",
            rename_fields=RENAMED,
            timestamp="time",
            json_serializer=dumps,
            **kwargs,
        )
