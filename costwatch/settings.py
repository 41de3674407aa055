"""costwatch settings: one module, configured only from environment variables."""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

from costwatch.email_url import parse_email_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "insecure-dev-key-only-for-debug" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG=0")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "ninja",
    # Bottom to top (docs/design.md, "Layers"): tenant, pricing, usage, billing.
    "costwatch.tenant",
    "billing.pricing",
    "usage",
    "billing",
]

MIDDLEWARE = [
    "costwatch.health.DatabaseUnavailableMiddleware",
    "costwatch.middleware.IngestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "costwatch.middleware.LoginRequiredExceptAPIMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "costwatch.urls"
WSGI_APPLICATION = "costwatch.wsgi.application"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'costwatch.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while an import writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# A read replica for pages (costwatch.routers): GET/HEAD requests read reports from it.
if env_str("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = dj_database_url.parse(env_str("DATABASE_REPLICA_URL"),
                                                 conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["costwatch.routers.ReplicaRouter"]
    MIDDLEWARE.insert(0, "costwatch.routers.replica_reads")
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql":
        # A database that is down or hung answers in seconds, not after the gunicorn timeout:
        # connect_timeout (libpq's minimum is 2 s) and a statement timeout per query.
        _database.setdefault("OPTIONS", {}).update({
            "connect_timeout": env_int("DB_CONNECT_TIMEOUT", 2),
            "options": f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 120_000)}",
        })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's cache: per process (LocMem) unless CACHE_URL names a Redis server, which every
# web process then shares. The dashboard pages keep their computed data there
# (usage.web.pagecache) for PAGE_CACHE_SECONDS (0: off); an entry is never stale: its key
# changes when the project's rollups, budgets or prices do.
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                          "KEY_PREFIX": "costwatch"}}
elif CACHE_URL:
    raise RuntimeError(f"CACHE_URL must be a redis:// URL, not {CACHE_URL!r}")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 1000)}}}
PAGE_CACHE_ALIAS = "default"
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 3600)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (costwatch.tenant.throttle): failures per user name and per client
# address within the window; past either, logins are refused until the window ends.
LOGIN_FAILURES_PER_USER = env_int("LOGIN_FAILURES_PER_USER", 10)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 50)
LOGIN_THROTTLE_SECONDS = env_int("LOGIN_THROTTLE_SECONDS", 900)
# Ingest requests per key and minute (0: no limit); past it, 429 with Retry-After.
INGEST_RATE_PER_MINUTE = env_int("INGEST_RATE_PER_MINUTE", 6000)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Compressed, content-hashed static files once collectstatic has run, with DEBUG too
# (costwatch/staticfiles.py); `make demo` runs collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "costwatch.staticfiles.HashedStaticFiles"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

# Ingest accepts up to 10,000 events per request; the body cap is raised for that
# endpoint alone (see usage.web.api), the global Django default stays.
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 50 * 1024 * 1024)
INGEST_MAX_EVENTS = 10_000
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 200 * 1024 * 1024)
# A running import writes a heartbeat this often (PostgreSQL); one silent for
# IMPORT_STALE_SECONDS (or whose process has exited) is failed, or run again when its
# Celery task is redelivered (usage.imports.fail_stale_jobs).
IMPORT_HEARTBEAT_SECONDS = env_int("IMPORT_HEARTBEAT_SECONDS", 10)
IMPORT_STALE_SECONDS = env_int("IMPORT_STALE_SECONDS", 120)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# E-mail: console unless an SMTP host is configured, by EMAIL_URL (costwatch.email_url) or
# by the separate EMAIL_* variables.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
if env_str("EMAIL_URL"):
    _email = parse_email_url(env_str("EMAIL_URL"))
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", EMAIL_HOST)
    EMAIL_PORT = _email.get("EMAIL_PORT", EMAIL_PORT)
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", EMAIL_HOST_USER)
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", EMAIL_HOST_PASSWORD)
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", EMAIL_USE_TLS)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", EMAIL_USE_SSL)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "costwatch <costwatch@localhost>")

# Webhooks are POSTed by the server: by default only to public addresses (billing.webhooks).
# 1 = also loopback, private and link-local ones, for a receiver inside your network.
COSTWATCH_WEBHOOK_ALLOW_PRIVATE = env_bool("COSTWATCH_WEBHOOK_ALLOW_PRIVATE", False)

# Celery: no broker configured -> tasks run eagerly in-process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Without a broker, an uploaded file is imported in a background thread of the web process
# (so the page can show row progress) instead of inside the upload request.
IMPORT_IN_THREAD = env_bool("IMPORT_IN_THREAD", CELERY_TASK_ALWAYS_EAGER)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "")
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "costwatch")
CELERY_TASK_ACKS_LATE = True
# a task whose worker died (kill -9, lost host) is redelivered instead of dropped, after the
# visibility timeout (Redis: the default 1 hour left imports and rollups stuck that long)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),  # > the longest task
    "socket_connect_timeout": 2,
    # publishing tries to connect once (a down broker answered each ingest after ~7 s of
    # retries); the worker's consumer reconnects by the broker_connection_* settings below
    "max_retries": 0,
    # a worker sweeps the tasks of dead workers (unacked past the visibility timeout) back
    # into the queue every this many seconds; kombu's default scans only every tenth sweep
    # of 10 s, which left such a task waiting up to 100 s more
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_SECONDS", 10),
    "unacked_restore_throttle": 1,
}
# The worker survives broker loss: it reconnects (also at startup) and, with acks_late,
# cancels the tasks it was running so that they are redelivered once the broker is back.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Ingest makes one short attempt to queue rollups; after a failure this process skips the
# broker for this long (the dirty marks in the database wait for the beat).
BROKER_BACKOFF_SECONDS = env_int("BROKER_BACKOFF_SECONDS", 10)
CELERY_TIMEZONE = "UTC"
# Rollups coalesce (usage.tasks.rollup_day): a dirty day is recomputed at most once per
# this many seconds on a worker; the beat catch-up takes marks whose task is this late.
ROLLUP_COALESCE_SECONDS = env_int("ROLLUP_COALESCE_SECONDS", 10)
ROLLUP_LATE_SECONDS = env_int("ROLLUP_LATE_SECONDS", 60)
# PostgreSQL work_mem of a rollup's transaction: a big day's GROUP BY hashed in memory.
ROLLUP_WORK_MEM = env_str("ROLLUP_WORK_MEM", "256MB")
# Raw usage records older than this many whole months before the current one are dropped
# (usage.retention; 0 = keep everything); the rollups stay.
USAGE_RAW_RETENTION_MONTHS = env_int("USAGE_RAW_RETENTION_MONTHS", 0)
CELERY_BEAT_SCHEDULE = {
    "usage-partitions": {"task": "usage.tasks.maintain_partitions", "schedule": crontab(minute=23)},
    "rollup-dirty-days": {"task": "usage.tasks.rollup_dirty", "schedule": 30.0},
    "fail-stale-imports": {"task": "usage.tasks.fail_stale_imports", "schedule": 60.0},
    "reprice-unpriced": {"task": "usage.tasks.reprice_unpriced", "schedule": 600.0},
    "check-budgets": {"task": "billing.tasks.check_all_budgets", "schedule": 300.0},
    "weekly-digests": {"task": "billing.tasks.send_weekly_digests", "schedule": crontab(minute=5)},
    "sync-providers": {"task": "usage.tasks.sync_all_providers", "schedule": crontab(minute=17)},
}

# Opt-in daily price sync (billing.tasks.sync_prices): the URL of a litellm JSON or
# genai-prices data.json; COSTWATCH_PRICE_SYNC_SOURCE names which (default litellm).
COSTWATCH_PRICE_SYNC_URL = env_str("COSTWATCH_PRICE_SYNC_URL", "")
COSTWATCH_PRICE_SYNC_SOURCE = env_str("COSTWATCH_PRICE_SYNC_SOURCE", "litellm")
if COSTWATCH_PRICE_SYNC_URL:
    CELERY_BEAT_SCHEDULE["sync-prices"] = {"task": "billing.tasks.sync_prices", "schedule": crontab(hour=4, minute=41)}

# Provider sync (usage.sync): admin API hosts (tests and air-gapped installs point them
# elsewhere), and the secrets that encrypt stored admin keys (costwatch/crypto.py): the
# first encrypts, all decrypt, so a new one is put first for a rotation.
ANTHROPIC_ADMIN_API_URL = env_str("ANTHROPIC_ADMIN_API_URL", "https://api.anthropic.com").rstrip("/")
OPENAI_ADMIN_API_URL = env_str("OPENAI_ADMIN_API_URL", "https://api.openai.com").rstrip("/")
PROVIDER_KEY_SECRETS = env_list("PROVIDER_KEY_SECRETS", "") or [SECRET_KEY]
PROVIDER_SYNC_DAYS = env_int("PROVIDER_SYNC_DAYS", 30)  # a first sync's history
PROVIDER_SYNC_TIMEOUT = env_int("PROVIDER_SYNC_TIMEOUT", 60)  # seconds per request
PROVIDER_SYNC_RETRIES = env_int("PROVIDER_SYNC_RETRIES", 5)
PROVIDER_SYNC_WINDOW_DAYS = min(31, env_int("PROVIDER_SYNC_WINDOW_DAYS", 31))  # days per stored step

# Security. Production (DEBUG=0) passes `manage.py check --deploy`.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # plotly.js writes inline styles for its SVG; nothing else needs it.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Eager tasks (embedded default) would log every rollup; keep the console readable.
        "celery.app.trace": {"level": env_str("CELERY_TRACE_LOG_LEVEL", "WARNING")},
    },
}
