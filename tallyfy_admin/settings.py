"""Settings for tallyfy-admin.

One module for every environment: whatever differs between them comes from environment
variables (Django's are DJANGO_*, ours TALLYFY_*), read from a `.env` file when present; the
real environment wins over the file. `.env.example` lists them all.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# DJANGO_ENV_FILE names another file, or none at all when set empty (the test suite does).
ENV_FILE = os.environ.get("DJANGO_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. `make run` writes one to .env for development; "
        "in production set it in the environment."
    )
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "tallyfy_admin.apps.TallyfyAdminConfig",  # django.contrib.admin, with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_tasks_db",
    "accounts",
    "organizations",
    "throttling",
    "files",
    "jobs",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "jobs.middleware.JobEndedMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tallyfy_admin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "tallyfy_admin.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL: one fsync a commit (still durable) and readers that never block the writer;
    # IMMEDIATE: a writer waits for the lock up front instead of failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["tallyfy_admin.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "static")
# WhiteNoise serves the admin's static files from STATIC_ROOT (run collectstatic when
# deploying); without DEBUG it needs no web server in front for them.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

LOGIN_URL = "admin:login"
# Where sign-in lands when `next` is missing or unsafe (another site): the admin, never a 404.
LOGIN_REDIRECT_URL = "admin:index"

# --- Sessions: 30 minutes idle ends a session, 12 hours ends it regardless. ---
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_TOUCH_INTERVAL = 60  # seconds: how stale the idle clock may be (accounts.middleware)
SESSION_ABSOLUTE_LIFETIME = timedelta(
    seconds=env.int("DJANGO_SESSION_ABSOLUTE_SECONDS", default=12 * 60 * 60)
)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Transport security: on unless DEBUG; SSL redirect can be left to a proxy. ---
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
# Preloading binds every subdomain of the deployment's domain to HTTPS for good, so it is the
# domain owner's decision (DJANGO_SECURE_HSTS_PRELOAD=true); until it is made, its warning is
# silenced rather than answered with a default that cannot be undone.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    # Only when a proxy that strips and sets this header sits in front of the app.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Values marked sensitive (tokens, passwords) are left out of error pages, DEBUG's included.
DEFAULT_EXCEPTION_REPORTER_FILTER = "tallyfy_admin.error_reports.AlwaysSafeExceptionReporterFilter"

# --- Brute force: django-axes. ---
AXES_FAILURE_LIMIT = env.int("DJANGO_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("DJANGO_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# X-Forwarded-For is believed only as far as trusted proxies wrote it (accounts.client_ip);
# otherwise anyone could name a fresh address per attempt and never be locked out.
TRUSTED_PROXY_COUNT = env.int("DJANGO_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"

# --- Tallyfy. ---
TALLYFY_DEFAULT_API_BASE_URL = "https://go.tallyfy.com/api"
TALLYFY_ALLOWED_API_HOSTS = env.list(
    "TALLYFY_ALLOWED_API_HOSTS", default=["go.tallyfy.com", "api.tallyfy.com"]
)
# Hosts reachable over plain http, loopback included: only for the local sandbox.
TALLYFY_INSECURE_API_HOSTS = env.list("TALLYFY_INSECURE_API_HOSTS", default=[])
TALLYFY_TOKEN_KEYS = env.list("TALLYFY_TOKEN_KEYS", default=[])
TALLYFY_CONNECT_TIMEOUT = env.float("TALLYFY_CONNECT_TIMEOUT", default=5.0)
TALLYFY_READ_TIMEOUT = env.float("TALLYFY_READ_TIMEOUT", default=30.0)
# One attempt of a call, connect to last byte; a download's body instead must bring
# TALLYFY_DOWNLOAD_MIN_RATE bytes a second over each such span spent waiting on Tallyfy.
TALLYFY_CALL_DEADLINE = env.float("TALLYFY_CALL_DEADLINE", default=30.0)
TALLYFY_DOWNLOAD_MIN_RATE = env.int("TALLYFY_DOWNLOAD_MIN_RATE", default=8 * 1024)
TALLYFY_MAX_BODY_BYTES = env.int("TALLYFY_MAX_BODY_BYTES", default=1024 * 1024)
TALLYFY_MAX_LIST_BODY_BYTES = env.int("TALLYFY_MAX_LIST_BODY_BYTES", default=16 * 1024 * 1024)
# Seconds one call from a page may spend waiting (Retry-After, retries) before it gives up.
TALLYFY_INTERACTIVE_WAIT_LIMIT = env.float("TALLYFY_INTERACTIVE_WAIT_LIMIT", default=10.0)
TALLYFY_RETRY_AFTER_CAP = env.float("TALLYFY_RETRY_AFTER_CAP", default=30.0)
TALLYFY_RETRY_BACKOFF = env.float("TALLYFY_RETRY_BACKOFF", default=0.5)
TALLYFY_DELETE_ATTEMPTS = env.int("TALLYFY_DELETE_ATTEMPTS", default=3)
TALLYFY_RECONCILE_AFTER = timedelta(
    seconds=env.int("TALLYFY_RECONCILE_AFTER_SECONDS", default=5 * 60)
)
# How long a confirm page can be acted on; each can be acted on once.
TALLYFY_CONFIRM_PAGE_LIFETIME = timedelta(
    seconds=env.int("TALLYFY_CONFIRM_PAGE_SECONDS", default=60 * 60)
)

# --- Background tasks (django.tasks). ---
# The database backend keeps the queue in our database; `manage.py db_worker` runs it (one per
# process, on as many machines as share the database). The immediate backend runs a task inside
# the call that enqueues it: no worker needed, nothing in the background.
TASKS = {
    "default": {
        "BACKEND": env.str("DJANGO_TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
    }
}

# --- Rate limit towards Tallyfy, per organization (throttling), shared by every process. ---
# Requests a minute for an organization whose own rate is not set: half of the highest limit
# Tallyfy documents (600 a minute per user); where its real limit is lower, 429s slow it down.
TALLYFY_DEFAULT_RATE_PER_MINUTE = env.int("TALLYFY_DEFAULT_RATE_PER_MINUTE", default=300)

# --- The file index (catalog). ---
# Failed steps in a row after which a scan ends failed (each waits longer before the next try:
# CATALOG_SCAN_RETRY_SECONDS, doubled each time, at most an hour).
CATALOG_SCAN_MAX_FAILURES = env.int("CATALOG_SCAN_MAX_FAILURES", default=8)
CATALOG_SCAN_RETRY_SECONDS = env.float("CATALOG_SCAN_RETRY_SECONDS", default=30.0)
# Files a scan missed that one step asks Tallyfy about (GET /assets/{id}, one call each).
CATALOG_SCAN_CHECK_BATCH = env.int("CATALOG_SCAN_CHECK_BATCH", default=25)
# Pages of one run's tasks read at most, whatever the list claims (100 tasks a page).
CATALOG_RUN_TASK_PAGES = env.int("CATALOG_RUN_TASK_PAGES", default=50)

# --- Deletion jobs (jobs). ---
JOBS_MAX_FILES = env.int("JOBS_MAX_FILES", default=10_000)
# A user's jobs confirmed within this window to delete more files than the threshold, all
# counted together, wait for a second staff user's approval.
JOBS_APPROVAL_THRESHOLD = env.int("JOBS_APPROVAL_THRESHOLD", default=25)
JOBS_APPROVAL_WINDOW_SECONDS = env.int("JOBS_APPROVAL_WINDOW_SECONDS", default=24 * 60 * 60)
# Files of one job a worker deletes at once: enough requests in flight to reach the rate limit
# when Tallyfy is far away (at 600 a minute and 200 ms a call, one at a time gives 300).
JOBS_FILES_IN_FLIGHT = env.int("JOBS_FILES_IN_FLIGHT", default=4)
JOBS_HEARTBEAT_SECONDS = env.float("JOBS_HEARTBEAT_SECONDS", default=5.0)
# A worker whose heartbeat the database has not seen for this long is taken for dead: its files
# go to another worker. At least twice TALLYFY_CALL_DEADLINE, so that a worker starts no call
# to Tallyfy that could outlast its claim (jobs.machine.call_margin).
JOBS_WORKER_TIMEOUT_SECONDS = env.float("JOBS_WORKER_TIMEOUT_SECONDS", default=60.0)
JOBS_SWEEP_SECONDS = env.float("JOBS_SWEEP_SECONDS", default=10.0)
# A worker's pass over one job lasts at most this long; then the job goes to the back of the
# queue, so that jobs waiting for a worker take turns.
JOBS_SLICE_SECONDS = env.float("JOBS_SLICE_SECONDS", default=20.0)
# Failure policy. A file whose metadata read or DELETE got no clear answer (timeout, 5xx,
# unreachable) is tried again after a backoff from this many seconds, doubling each time.
JOBS_RETRY_BACKOFF_SECONDS = env.float("JOBS_RETRY_BACKOFF_SECONDS", default=30.0)
# A job pauses itself when this many of its files in a row failed so, or more than this share
# of its last JOBS_FAILURE_WINDOW files.
JOBS_PAUSE_AFTER_FAILURES_IN_A_ROW = env.int("JOBS_PAUSE_AFTER_FAILURES_IN_A_ROW", default=10)
JOBS_PAUSE_AT_FAILURE_SHARE = env.float("JOBS_PAUSE_AT_FAILURE_SHARE", default=0.2)
JOBS_FAILURE_WINDOW = env.int("JOBS_FAILURE_WINDOW", default=50)
# Reads of a file's metadata a preview tries before it calls the file unreadable.
JOBS_PREVIEW_ATTEMPTS = env.int("JOBS_PREVIEW_ATTEMPTS", default=3)
# Run by every `run_worker` each JOBS_SWEEP_SECONDS: each wakes the work that lost its worker.
BACKGROUND_SWEEPS = ["jobs.tasks.jobs_wake_stalled", "catalog.tasks.scans_wake_stalled"]


# Every record goes to the root's one handler, through one formatter that escapes control
# characters (a User-Agent with terminal escapes, a file name with a line break). Django's own
# loggers lose the handlers of its default configuration, which would print records raw.
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "escaped": {
            "()": "tallyfy_admin.log_format.EscapingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "escaped"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "urllib3": {"level": "WARNING"},
    },
}
