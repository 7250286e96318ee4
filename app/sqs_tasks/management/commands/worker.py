import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends

from sqs_tasks.backend import SQSBackend
from sqs_tasks.queue import MAX_WAIT_SECONDS, QueueMissing
from sqs_tasks.worker import Worker

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopPolling(BaseException):
    """Raised by the signal handler to cut a long poll short (up to 20 s otherwise).

    Not an Exception, as KeyboardInterrupt is not: botocore catches every Exception raised while
    it waits for the HTTP response and retries the request, so the worker kept polling.
    """


class Command(BaseCommand):
    help = (
        "Run tasks from the SQS queue of a task backend (TASKS_QUEUE_URL). "
        "SIGTERM/SIGINT stop it after the current message."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend", default=DEFAULT_TASK_BACKEND_ALIAS, help="Task backend alias."
        )
        parser.add_argument(
            "--wait",
            type=int,
            default=MAX_WAIT_SECONDS,
            choices=range(MAX_WAIT_SECONDS + 1),
            metavar=f"0-{MAX_WAIT_SECONDS}",
            help=f"Long-poll wait in seconds (default {MAX_WAIT_SECONDS}).",
        )
        parser.add_argument(
            "--once", action="store_true", help="Poll once, handle what came, exit."
        )
        parser.add_argument(
            "--max-messages", type=int, help="Exit after handling this many messages."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["backend"]
        backend = task_backends[alias]
        if not isinstance(backend, SQSBackend):
            raise CommandError(
                f"Task backend {alias!r} is {type(backend).__name__}, not SQSBackend: the worker "
                "only reads SQS. Set TASKS_QUEUE_URL (deploy-local writes it to .hangar/local.env)."
            )
        worker = Worker(
            backend.queue, backend_alias=alias, retry_backoff_seconds=backend.retry_backoff_seconds
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            self.stderr.write(
                f"{signal.Signals(signum).name} received: stopping after the current message."
            )
            worker.request_stop()
            if worker.polling:
                # Nothing received yet, so nothing is lost: a message SQS hands out as the
                # connection closes becomes visible again after its visibility timeout.
                raise StopPolling

        previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
        self.stdout.write(
            f"worker {worker.worker_id} polling {backend.queue} (wait {options['wait']} s)"
        )
        try:
            handled = worker.run(
                wait_seconds=options["wait"],
                max_messages=options["max_messages"],
                once=options["once"],
            )
        except StopPolling:
            handled = None
        except QueueMissing as error:
            raise CommandError(
                f"{error}: deploy the stage that holds it (`make deploy-local`; `make dev` "
                "restarts the worker with it) or fix TASKS_QUEUE_URL"
            ) from error
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if handled is None:
            self.stdout.write("worker stopped while waiting for messages")
        else:
            self.stdout.write(f"worker stopped after {handled} message(s)")
