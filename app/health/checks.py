"""Readiness checks: can this process reach the database, the documents bucket and the queue?

Each check runs in its own thread with short timeouts so one slow dependency neither delays the
others nor holds the probe past the load balancer's timeout.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from config import aws

CheckResult = dict[str, Any]

NOT_CONFIGURED: CheckResult = {"ok": True, "detail": "not configured"}


def _aws_client(service_name: str) -> Any:
    timeout = settings.READINESS_TIMEOUT
    return aws.client(service_name, connect_timeout=timeout, read_timeout=timeout, max_attempts=1)


def check_database() -> CheckResult:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # This thread's connection would otherwise stay open until the pool thread dies.
        connection.close()
    return {"ok": True}


def check_s3() -> CheckResult:
    if not settings.DOCUMENTS_BUCKET:
        return NOT_CONFIGURED
    _aws_client("s3").head_bucket(Bucket=settings.DOCUMENTS_BUCKET)
    return {"ok": True, "bucket": settings.DOCUMENTS_BUCKET}


def check_sqs() -> CheckResult:
    if not settings.TASKS_QUEUE_URL:
        return NOT_CONFIGURED
    _aws_client("sqs").get_queue_attributes(
        QueueUrl=settings.TASKS_QUEUE_URL, AttributeNames=["QueueArn"]
    )
    return {"ok": True, "queue_url": settings.TASKS_QUEUE_URL}


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "s3": check_s3,
    "sqs": check_sqs,
}


def _timed(check: Callable[[], CheckResult]) -> CheckResult:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as error:  # any failure means "not ready"; the name says which dependency
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {**result, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}


def run_checks(
    checks: dict[str, Callable[[], CheckResult]] | None = None,
) -> dict[str, CheckResult]:
    checks = CHECKS if checks is None else checks
    deadline = settings.READINESS_TIMEOUT + 1
    executor = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz")
    futures = {name: executor.submit(_timed, check) for name, check in checks.items()}
    wait(futures.values(), timeout=deadline)
    # Don't wait for a stuck check: its own timeouts end the thread later.
    executor.shutdown(wait=False, cancel_futures=True)
    return {
        name: future.result()
        if future.done()
        else {"ok": False, "error": f"no answer within {deadline:g} s"}
        for name, future in futures.items()
    }
