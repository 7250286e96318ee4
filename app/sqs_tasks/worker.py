"""The loop behind `manage.py worker`: receive a message, run its task, delete it on success.

A failed task's message is not deleted: SQS makes it visible again after the visibility timeout
(or sooner, with a retry backoff) and, after the queue's maxReceiveCount, moves it to the
dead-letter queue. A message that cannot be decoded into a task goes the same way, so nothing
is ever dropped silently.

While its task runs, the worker keeps the message hidden from other workers: SQS would otherwise
hand it out again once the visibility timeout passes, to a second worker that would run the task
again while the first still does (a task longer than the timeout, or one a stopping worker is
finishing while its replacement already polls).

When the queue is unavailable (refused connections, timeouts, throttling, its circuit breaker open:
LocalStack restarting, say) the worker waits and tries again, doubling the wait up to a bound, and
says so twice: when the outage starts and when it ends. It never exits for it; the message in hand,
if any, comes back after its visibility timeout. A queue that does not exist is no outage
(QueueMissing ends the worker, for compose to restart it with the deployed stage's queue).
"""

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from traceback import format_exception
from typing import Any

from django.db import close_old_connections
from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string

from config.dependencies import DependencyUnavailable
from sqs_tasks.messages import InvalidMessage, TaskMessage
from sqs_tasks.queue import Message, Queue

logger = logging.getLogger(__name__)

# SQS refuses visibility timeouts above 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 60 * 60


def resolve_task(path: str) -> Task:
    """The Task object at `path`; only decorated tasks run, never an arbitrary callable."""
    try:
        target = import_string(path)
    except ImportError as error:
        raise InvalidMessage(f"no task at {path!r}: {error}") from error
    if not isinstance(target, Task):
        raise InvalidMessage(f"{path!r} is not a task (decorate it with @task)")
    return target


def retry_delay(base_seconds: int, receive_count: int) -> int:
    return min(base_seconds * 2 ** max(receive_count - 1, 0), MAX_VISIBILITY_SECONDS)


@dataclass(frozen=True)
class Backoff:
    """The waits between tries while the queue is unavailable: doubling from `first` up to
    `longest`, each between half and all of that (jitter: workers that lost the queue together
    do not come back in step)."""

    first: float = 1.0
    longest: float = 30.0

    def delay(self, retry: int) -> float:
        ceiling = min(self.longest, self.first * 2 ** (retry - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


@dataclass
class Outage:
    error: DependencyUnavailable
    started: float
    retries: int = 0


class Worker:
    def __init__(
        self,
        queue: Queue,
        *,
        backend_alias: str,
        retry_backoff_seconds: int = 0,
        backoff: Backoff | None = None,
    ) -> None:
        self.queue = queue
        self.backend_alias = backend_alias
        self.retry_backoff_seconds = retry_backoff_seconds
        self.backoff = backoff or Backoff()
        self.worker_id = get_random_string(32)
        self.stopping = threading.Event()
        self.polling = False  # inside a long poll: nothing in hand that a stop would lose
        self.outage: Outage | None = None

    def request_stop(self) -> None:
        """Finish the message in hand, then return from run()."""
        self.stopping.set()

    def run(self, *, wait_seconds: int, max_messages: int | None = None, once: bool = False) -> int:
        """Process messages until stopped; returns how many were handled (successfully or not)."""
        handled = 0
        while not self.stopping.is_set():
            try:
                handled += self._poll(wait_seconds)
            except DependencyUnavailable as error:
                self._wait_out(error)
                continue
            self._outage_over()
            if once or (max_messages is not None and handled >= max_messages):
                break
        return handled

    def _poll(self, wait_seconds: int) -> int:
        self.polling = True
        try:
            messages = self.queue.receive(wait_seconds=wait_seconds)
        finally:
            self.polling = False
        for message in messages:
            self.handle(message)
        return len(messages)

    def _wait_out(self, error: DependencyUnavailable) -> None:
        if self.outage is None:
            self.outage = Outage(error, started=time.monotonic())
            logger.warning(
                "%s; retrying with backoff (at most %g s apart) until it answers",
                error,
                self.backoff.longest,
            )
        self.outage.retries += 1
        self.stopping.wait(self.backoff.delay(self.outage.retries))

    def _outage_over(self) -> None:
        if self.outage is not None:
            retries = self.outage.retries
            logger.info(
                "%s answers again after %.1f s (%d %s)",
                self.outage.error.dependency,
                time.monotonic() - self.outage.started,
                retries,
                "retry" if retries == 1 else "retries",
            )
            self.outage = None

    def handle(self, message: Message) -> bool:
        """Run one message's task; True (and the message deleted) when it succeeded.

        DependencyUnavailable when the queue cannot say how long to keep the message hidden, or
        take the delete: run() waits the outage out, and SQS hands the message out again."""
        try:
            task_message = TaskMessage.from_json(message.body)
            task = resolve_task(task_message.task_path)
        except InvalidMessage as error:
            logger.error(
                "message %s is not a runnable task (%s); leaving it for the dead-letter queue",
                message.id,
                error,
                extra={"message_id": message.id, "receive_count": message.receive_count},
            )
            return False
        # Like a request, a task starts and ends with fresh database connections, so a
        # long-lived worker survives database restarts and failovers.
        close_old_connections()
        try:
            with self._kept_hidden(message):
                succeeded = self._execute(task, task_message)
        finally:
            close_old_connections()
        if succeeded:
            self.queue.delete(message)
        elif self.retry_backoff_seconds:
            self.queue.change_visibility(
                message, retry_delay(self.retry_backoff_seconds, message.receive_count)
            )
        return succeeded

    @contextmanager
    def _kept_hidden(self, message: Message) -> Iterator[None]:
        """Renew the message's visibility timeout until the block ends.

        Every third of the timeout, so one slow renewal still lands in time. A worker that dies
        renews nothing, and its message is visible again within one timeout.
        """
        timeout = self.queue.visibility_timeout
        done = threading.Event()

        def renew() -> None:
            while not done.wait(timeout / 3):
                try:
                    self.queue.change_visibility(message, timeout)
                except Exception as error:
                    logger.warning(
                        "cannot keep message %s hidden; another worker may receive it (%s)",
                        message.id,
                        error,
                        # An outage explains itself; anything else may be a bug.
                        exc_info=not isinstance(error, DependencyUnavailable),
                        extra={"message_id": message.id},
                    )
                    return

        renewer = threading.Thread(target=renew, name=f"keep-hidden-{message.id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()

    def _execute(self, task: Task, task_message: TaskMessage) -> bool:
        started_at = timezone.now()
        result: TaskResult[Any, Any] = TaskResult(
            task=task,
            id=task_message.id,
            status=TaskResultStatus.RUNNING,
            enqueued_at=None,
            started_at=started_at,
            last_attempted_at=started_at,
            finished_at=None,
            args=task_message.args,
            kwargs=task_message.kwargs,
            backend=self.backend_alias,
            errors=[],
            worker_ids=[self.worker_id],
        )
        # django.tasks' own signal receivers log the start and the outcome (with the traceback).
        task_started.send(type(self), task_result=result)
        try:
            if task.takes_context:
                task.call(TaskContext(task_result=result), *result.args, **result.kwargs)
            else:
                task.call(*result.args, **result.kwargs)
        except Exception as error:
            object.__setattr__(result, "finished_at", timezone.now())
            object.__setattr__(result, "status", TaskResultStatus.FAILED)
            error_type = type(error)
            result.errors.append(
                TaskError(
                    exception_class_path=f"{error_type.__module__}.{error_type.__qualname__}",
                    traceback="".join(format_exception(error)),
                )
            )
            task_finished.send(type(self), task_result=result)
            return False
        object.__setattr__(result, "finished_at", timezone.now())
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
        task_finished.send(type(self), task_result=result)
        return True
