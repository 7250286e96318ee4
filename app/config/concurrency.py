"""How many requests one web process serves at once, and how many may wait on a dependency.

gunicorn runs `threads()` threads per process (the platform's docker/runtime/gunicorn.conf.py).
Every request but liveness and readiness takes one of `threads() - 1` slots (config.dependencies),
so when S3, SQS or the database
hangs and holds every slot, one thread is still free to answer the load balancer's /healthz —
otherwise the ALB would replace every healthy task during a dependency blip.
"""

import os

DEFAULT_THREADS = 8


def threads() -> int:
    return int(os.environ.get("GUNICORN_THREADS", str(DEFAULT_THREADS)))


def request_slots() -> int:
    """Slots for requests that may touch a dependency: all threads but the one kept for liveness."""
    return max(1, threads() - 1)
