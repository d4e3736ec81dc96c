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
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "accounts",
    "organizations",
    "throttling",
    "files",
    "jobs",
    "catalog",
    "evidence",
    "erasure",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SessionLifetimeMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
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
            "libraries": {"app_list": "admin_pages.app_list"},
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
    # Django's ModelBackend, reading each request's user with what every page asks of them.
    "accounts.backends.SignedInUserBackend",
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

# --- Sessions: 30 minutes idle ends a session, 12 hours ends it regardless (accounts.conf). ---
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_IDLE_SECONDS", default=30 * 60)
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
# X-Forwarded-For is believed only as far as DJANGO_PROXY_COUNT trusted proxies wrote it.
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"

# --- Second factors: django-otp (authenticator apps, recovery codes), django-otp-webauthn
# (passkeys). Who must use one, and how fresh it must be, is accounts.conf's. ---
OTP_TOTP_ISSUER = env.str("TALLYFY_TOTP_ISSUER", default="Tallyfy admin")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the device admins never show a secret
OTP_WEBAUTHN_RP_NAME = OTP_TOTP_ISSUER
# The relying party is the host the page was served from (checked against ALLOWED_HOSTS)
# unless named here; an origin a passkey may be used from must be listed (https://host),
# except, with DJANGO_DEBUG, the page's own (make run's http://localhost:8000).
OTP_WEBAUTHN_RP_ID = env.str("TALLYFY_WEBAUTHN_RP_ID", default="")
OTP_WEBAUTHN_RP_ID_CALLABLE = "accounts.passkeys.relying_party_id"
OTP_WEBAUTHN_HELPER_CLASS = "accounts.passkeys.PasskeyHelper"
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list(
    "TALLYFY_WEBAUTHN_ORIGINS",
    default=[
        f"https://{host}" for host in ALLOWED_HOSTS if host and host[0] != "." and host != "*"
    ],
)
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False  # the password first, always
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = "accounts.passkeys"

# --- Background tasks (django.tasks). ---
# The database backend keeps the queue in our database; `manage.py db_worker` runs it (one per
# process, on as many machines as share the database). The immediate backend runs a task inside
# the call that enqueues it: no worker needed, nothing in the background.
TASKS = {
    "default": {
        "BACKEND": env.str("DJANGO_TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
    }
}

# --- Apps' own settings: each app's conf.py, with their defaults (see app_settings). ---
# Run by every `run_worker` each JOBS_SWEEP_SECONDS: each wakes the work that lost its worker.
BACKGROUND_SWEEPS = [
    "jobs.tasks.jobs_wake_stalled",
    "catalog.tasks.scans_wake_stalled",
    "files.tasks.deletions_reconcile_due",
    "erasure.tasks.erasure_requests_follow",
    "erasure.tasks.discoveries_resume",
]


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
