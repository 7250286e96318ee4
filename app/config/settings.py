"""Settings for every environment, read from environment variables (see docs/architecture.md).

DJANGO_ENV=production turns on the secure settings and makes the secret key and the database
mandatory; development falls back to SQLite, local files and inline tasks, and says so on stderr.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP

from config import concurrency, environment

BASE_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BASE_DIR.parent

env = environ.Env()
DJANGO_ENV = environment.django_env(env)
PRODUCTION = DJANGO_ENV == "production"
# `make deploy-local` writes the local stage's outputs here; the dev server reloads when it does.
LOCAL_ENV_FILE = REPO_ROOT / ".hangar" / "local.env"
if not PRODUCTION:
    # Real environment variables win over the file, so one can override a single value.
    LOCAL_ENV_FILE = environment.read_env_file(env, default=LOCAL_ENV_FILE) or LOCAL_ENV_FILE
fallbacks: list[str] = []

DEBUG = not PRODUCTION and env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = (
    environment.required(env, "DJANGO_SECRET_KEY")
    if PRODUCTION
    else env.str("DJANGO_SECRET_KEY", default="django-insecure-development-only-key")
)
if PRODUCTION:
    # Production would serve nothing but /healthz without it: stop start-up instead.
    environment.required(env, "DJANGO_ALLOWED_HOSTS")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "accounts",
    "health",
    "documents",
    "sqs_tasks",
]
if not PRODUCTION:
    INSTALLED_APPS.append("config.apps.DevServerConfig")

MIDDLEWARE = [
    # First: answers the load balancer's /healthz before ALLOWED_HOSTS or the HTTPS redirect.
    "health.middleware.HealthzMiddleware",
    "config.request_log.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Refuses an oversized body from its Content-Length, before anything reads it (see the module).
    "documents.middleware.UploadSizeLimitMiddleware",
    # Reads the whole body, at a minimum pace, before the request takes a slot (see the module).
    "config.request_body.RequestBodyMiddleware",
    # Bounded request slots and 503s naming an unavailable dependency (see the module).
    "config.dependencies.RequestSlotsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEVELOPMENT_SQLITE = BASE_DIR / "db.sqlite3"
DATABASES = {
    "default": environment.database(env, production=PRODUCTION, sqlite_path=DEVELOPMENT_SQLITE)
}
if DATABASES["default"]["NAME"] == DEVELOPMENT_SQLITE:
    fallbacks.append("SQLite (no DATABASE_URL or DB_*)")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "documents:index"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out client before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling in every stage (django-axes; the WAF's rate limit exists in prod only): after
# 5 failed logins for one username from one client address, that pair is refused with 429 for
# 15 minutes. Per pair, so someone guessing a user's password does not lock the user out
# elsewhere. A successful login clears the count; `manage.py axes_reset` clears every lockout.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.client_address.client_address"
AXES_COOLOFF_MESSAGE = (
    "Too many failed logins for this username from your address: try again in "
    f"{AXES_COOLOFF_TIME // timedelta(minutes=1)} minutes."
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# AWS: one region/endpoint for every client (config.aws); the endpoint is LocalStack locally.
AWS_REGION = env.str("AWS_REGION", default="us-east-1")
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="")
# Bounded so a request waiting on a hanging S3/SQS fails with 503 within about
# MAX_ATTEMPTS times (CONNECT or READ timeout) instead of holding its thread (config.dependencies).
AWS_CONNECT_TIMEOUT = env.float("AWS_CONNECT_TIMEOUT", default=2.0)
AWS_READ_TIMEOUT = env.float("AWS_READ_TIMEOUT", default=5.0)
AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", default=2)
# Each dependency's circuit breaker (config.circuit): after this many failed attempts in a row its
# calls fail at once (503) for OPEN_SECONDS, then an attempt first probes it within PROBE_TIMEOUT.
AWS_BREAKER_FAILURES = env.int("AWS_BREAKER_FAILURES", default=3)
AWS_BREAKER_OPEN_SECONDS = env.float("AWS_BREAKER_OPEN_SECONDS", default=1.0)
AWS_BREAKER_PROBE_TIMEOUT = env.float("AWS_BREAKER_PROBE_TIMEOUT", default=1.0)
DOCUMENTS_BUCKET = env.str("DOCUMENTS_BUCKET", default="")
TASKS_QUEUE_URL = env.str("TASKS_QUEUE_URL", default="")
TASKS_DLQ_URL = env.str("TASKS_DLQ_URL", default="")
READINESS_TIMEOUT = env.float("READINESS_TIMEOUT", default=2.0)
# Requests admitted at once per process (one gunicorn thread stays free for /healthz), how long
# one waits for a slot before a 503, and the Retry-After of every 503 for an unavailable dependency.
REQUEST_SLOTS = concurrency.request_slots()
REQUEST_SLOT_WAIT = env.float("REQUEST_SLOT_WAIT", default=0.1)
# ... unless every slot has been held this long: then they are stuck and waiting helps nobody.
REQUEST_SLOT_STUCK = env.float("REQUEST_SLOT_STUCK", default=1.0)
DEPENDENCY_RETRY_AFTER = env.int("DEPENDENCY_RETRY_AFTER", default=5)
# A request body is read before its request takes a slot; under gunicorn it must arrive within
# REQUEST_BODY_TIMEOUT seconds plus one per REQUEST_BODY_MIN_RATE bytes received, else 408
# (config.request_body). 32 KiB/s: a 10 MiB upload needs a link of about 256 kbit/s.
REQUEST_BODY_TIMEOUT = env.float("REQUEST_BODY_TIMEOUT", default=10.0)
REQUEST_BODY_MIN_RATE = env.int("REQUEST_BODY_MIN_RATE", default=32 * 1024)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=REPO_ROOT / ".hangar" / "media")
MEDIA_URL = "media/"
if DOCUMENTS_BUCKET:
    default_storage = {
        # S3 with the timeouts of every other AWS client in the app.
        "BACKEND": "config.storage.DocumentStorage",
        "OPTIONS": {
            "bucket_name": DOCUMENTS_BUCKET,
            "region_name": AWS_REGION,
            "endpoint_url": AWS_ENDPOINT_URL or None,
            # The bucket enforces owner-only objects; sending an ACL would be rejected.
            "default_acl": None,
        },
    }
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    fallbacks.append(f"files in {MEDIA_ROOT} (no DOCUMENTS_BUCKET)")
STORAGES = {
    "default": default_storage,
    # Hashed, compressed files served by WhiteNoise. Needs `collectstatic` (the image runs it at
    # build time, with no other setting) unless DEBUG serves files straight from the apps.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Every deployed stage requires a logged-in user to upload; `make dev` turns it off (dev.py,
# compose.yaml) for its loopback-only server, and creates a development superuser either way.
UPLOADS_REQUIRE_LOGIN = env.bool("UPLOADS_REQUIRE_LOGIN", default=True)
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
UPLOAD_ALLOWED_TYPES = env.list(
    "UPLOAD_ALLOWED_TYPES",
    default=["application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv"],
)

if TASKS_QUEUE_URL:
    TASKS = {
        "default": {
            "BACKEND": "sqs_tasks.backend.SQSBackend",
            "OPTIONS": {
                "QUEUE_URL": TASKS_QUEUE_URL,
                "RETRY_BACKOFF_SECONDS": env.int("TASKS_RETRY_BACKOFF_SECONDS", default=0),
            },
        }
    }
else:
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    fallbacks.append("tasks run inline (no TASKS_QUEUE_URL)")

# Content-Security-Policy on every response, in every stage: pages load scripts, styles, images
# and fonts from this origin only and run no inline script or style (the pages' look is in
# static/site.css; the admin's scripts are files too), post forms only here and are never framed.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

if PRODUCTION:
    # The ALB forwards plain HTTP with X-Forwarded-Proto (https when it terminated TLS).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Whether the public entry point terminates TLS. The stack sets it per deploy: true with an
    # HTTPS listener, false for a stage served over HTTP only (and for `make run-task`), where a
    # redirect to https:// would reach nothing and Secure cookies would never come back.
    HTTPS = env.bool("DJANGO_HTTPS", default=True)
    SECURE_SSL_REDIRECT = HTTPS
    SECURE_HSTS_SECONDS = (
        env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365) if HTTPS else 0
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
    SECURE_HSTS_PRELOAD = HTTPS
    SESSION_COOKIE_SECURE = HTTPS
    CSRF_COOKIE_SECURE = HTTPS
if fallbacks:
    environment.notice(f"using {'; '.join(fallbacks)}")

LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_log.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "config.json_logging.JsonFormatter"},
        "text": {
            "()": "config.text_logging.TextFormatter",
            "format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if PRODUCTION else "text",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Everything reaches the root handler once, in one format; Django's defaults would
        # add a second, differently formatted copy of its records.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # runserver's own access log repeats config.request_log's line.
        "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}
