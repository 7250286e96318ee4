"""The SQS message body for one enqueued task: JSON, versioned, nothing but data.

{"version": 1, "id": "...", "task": "documents.tasks.process_document",
 "args": [...], "kwargs": {...}, "enqueued_at": "2025-01-01T00:00:00+00:00"}
"""

import json
from dataclasses import dataclass
from typing import Any

VERSION = 1


class InvalidMessage(ValueError):
    """A message body this worker cannot turn into a task call."""


@dataclass(frozen=True)
class TaskMessage:
    id: str
    task_path: str
    args: list[Any]
    kwargs: dict[str, Any]
    enqueued_at: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": VERSION,
                "id": self.id,
                "task": self.task_path,
                "args": self.args,
                "kwargs": self.kwargs,
                "enqueued_at": self.enqueued_at,
            }
        )

    @classmethod
    def from_json(cls, body: str) -> "TaskMessage":
        try:
            data = json.loads(body)
        except ValueError as error:
            raise InvalidMessage(f"body is not JSON: {error}") from error
        if not isinstance(data, dict):
            raise InvalidMessage("body is not a JSON object")
        if data.get("version") != VERSION:
            raise InvalidMessage(f"unsupported message version {data.get('version')!r}")
        fields = {"id": str, "task": str, "args": list, "kwargs": dict, "enqueued_at": str}
        for name, kind in fields.items():
            if not isinstance(data.get(name), kind):
                raise InvalidMessage(f"field {name!r} is missing or not a {kind.__name__}")
        return cls(
            id=data["id"],
            task_path=data["task"],
            args=data["args"],
            kwargs=data["kwargs"],
            enqueued_at=data["enqueued_at"],
        )
