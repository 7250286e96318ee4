"""gunicorn's settings for the runtime image: the platform's, not the app's (`gunicorn
--config=/app/platform/gunicorn.conf.py`), so any Django project runs under them unchanged.

The Dockerfile sets the WSGI application and the port from `[tool.hangar]` (build arguments). The
sizes and timeouts come from the task definition's environment, which the CDK stack derives from
the task's CPU and memory and from its shutdown timings (hangar.core.capacity); the fallbacks
serve a bare `docker run` of the image. gthread workers: `workers` processes of `threads` threads.
"""

import logging
import os
import sys

wsgi_app = os.environ["HANGAR_WSGI_APPLICATION"]
bind = f"0.0.0.0:{os.environ['HANGAR_CONTAINER_PORT']}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# Set for the workers too: an app that keeps a thread free for liveness (the sample does) reads the
# same figure gunicorn runs with.
threads = int(os.environ.setdefault("GUNICORN_THREADS", "8"))
# A request that runs longer is killed; the ALB's deregistration delay and the container's stop
# timeout are derived from the same figures (hangar.core.capacity).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Above the ALB's 60 s idle timeout, so the ALB never reuses a connection gunicorn already closed
# (sporadic 502s).
keepalive = 65
# Heartbeat files in memory: a slow container disk must not look like a hung worker.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a tmpfs, not a shared temp file)
# Recycle a worker now and then (a leak cannot grow forever), but rarely: with one process per
# small task, the restart is a second in which that task answers nothing.
max_requests = 20000
max_requests_jitter = 2000
# No access log: the app writes its own (the sample: one JSON line per request with its request
# id); a second, plain-text line per request (and per ALB health check) would break that.
accesslog = None
# gunicorn ≥ 25 opens a control socket in $HOME/.gunicorn; the image's non-root user has no home
# (it would log "Permission denied" at every start) and nothing here uses `gunicornc`.
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    """Request errors reach stdout (and so the task's CloudWatch log stream) whatever the
    project's LOGGING says. Without LOGGING, Django logs a 500's traceback only to a console
    handler that DEBUG must be on for and to mail for ADMINS, so in production it went nowhere.
    Django is set up by now (the worker loaded the app): where its request errors already reach a
    console, nothing is added, so a project that logs for itself gets no second copy."""
    if not reaches_a_console("django.request", logging.ERROR):
        handler = logging.StreamHandler(sys.stdout)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.getLogger().addHandler(handler)


def reaches_a_console(name: str, level: int) -> bool:
    """Whether a record of `name` at `level` reaches a handler writing to stdout or stderr."""
    record = logging.LogRecord(name, level, __file__, 0, "probe", None, None)
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None:
        for handler in logger.handlers:
            if (
                isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and level >= handler.level
                and handler.filter(record)
            ):
                return True
        logger = logger.parent if logger.propagate else None
    return False
