"""gunicorn's settings for the runtime image: `gunicorn --config=python:config.gunicorn`.

The sizes and timeouts come from the task definition's environment, which the CDK stack derives
from the task's CPU and memory and from its shutdown timings (infra: hangar_infra.config). The
fallbacks serve a bare `docker run` of the image. gthread workers: `workers` processes of
`threads` threads each; one thread per process is kept free for liveness (config.concurrency).
"""

import os

from config import concurrency

wsgi_app = "config.wsgi"
bind = "0.0.0.0:8000"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = concurrency.threads()
# A request that runs longer is killed; the ALB's deregistration delay and the container's stop
# timeout are derived from the same figures (hangar_infra.config.ShutdownTimings).
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
# No access log: config.request_log already writes one JSON line per request (with its request
# id); a second, plain-text line per request (and per ALB health check) would break that.
accesslog = None
# gunicorn ≥ 25 opens a control socket in $HOME/.gunicorn; the image's non-root user has no home
# (it would log "Permission denied" at every start) and nothing here uses `gunicornc`.
control_socket_disable = True
