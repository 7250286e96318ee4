"""A django.tasks backend that sends each enqueued task to an SQS queue for `manage.py worker`.

Configure with TASKS = {"default": {"BACKEND": "sqs_tasks.backend.SQSBackend",
"OPTIONS": {"QUEUE_URL": ..., "RETRY_BACKOFF_SECONDS": 0}}}.
"""

from functools import cached_property
from typing import Any

from django.core import checks
from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.crypto import get_random_string

from sqs_tasks.messages import TaskMessage
from sqs_tasks.queue import Queue, SQSQueue


class SQSBackend(BaseTaskBackend):
    # Deferral (run_after) would be capped at SQS's 15-minute DelaySeconds, priorities and
    # result storage have no SQS equivalent: leave them unsupported rather than half-working.
    supports_defer = False
    supports_async_task = False
    supports_get_result = False
    supports_priority = False

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.queue_url: str = self.options.get("QUEUE_URL", "")
        # Seconds before a failed message is retried, doubled per attempt; 0 keeps the queue's
        # own visibility timeout.
        self.retry_backoff_seconds: int = int(self.options.get("RETRY_BACKOFF_SECONDS", 0))

    @cached_property
    def queue(self) -> Queue:
        return SQSQueue(self.queue_url)

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        enqueued_at = timezone.now()
        result: TaskResult[Any, Any] = TaskResult(
            task=task,
            id=get_random_string(32),
            status=TaskResultStatus.READY,
            enqueued_at=enqueued_at,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=list(args),
            kwargs=dict(kwargs),
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        message = TaskMessage(
            id=result.id,
            task_path=task.module_path,
            # TaskResult normalized these to JSON-compatible values (or raised TypeError).
            args=result.args,
            kwargs=result.kwargs,
            enqueued_at=enqueued_at.isoformat(),
        )
        self.queue.send(message.to_json())
        task_enqueued.send(type(self), task_result=result)
        return result

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        if self.queue_url:
            return []
        return [
            checks.Error(
                f"Task backend {self.alias!r} has no QUEUE_URL option.",
                hint="Set TASKS_QUEUE_URL (deploy-local writes it to .hangar/local.env).",
                id="sqs_tasks.E001",
            )
        ]
