"""Settings shared by every environment.

The environment is read once, here. With no variables set the project runs on
the embedded default (SQLite, local-memory cache, eager Celery, console email);
setting DATABASE_URL, REDIS_URL, CELERY_BROKER_URL and EMAIL_URL switches each
part to its real service.
"""

import math
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_guid",
    "axes",
    "django_ratelimit",
    "hotel",
    "inventory",
    "bookings",
    "waitlist",
    "payments",
    "notifications",
    "caching",
    "backups",
]

MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the request into a query (sessions need only the cookie).
    "hotel.middleware.reject_nul_characters",
    # A 503 page, not a 500, for a view that lost the database or could not reach it.
    "hotel.middleware.DatabaseUnreachableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers a locked-out login with the lockout page; last, as axes asks.
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

# Web processes collect their youngest objects after this many new ones
# (Python's default is 700): config.process.tune_garbage_collector.
_gc_gen0 = env("GC_GEN0_THRESHOLD", default="10000").strip()
if not (_gc_gen0.isdecimal() and int(_gc_gen0) >= 1):
    raise ImproperlyConfigured(
        f"GC_GEN0_THRESHOLD must be a whole number of 1 or more; it is {_gc_gen0!r}."
    )
GC_GEN0_THRESHOLD = int(_gc_gen0)

# --- Database ---------------------------------------------------------------

# Services own their transactions (CONVENTIONS.md), so requests are not atomic.
ATOMIC_REQUESTS = False
DATABASE_URL = env("DATABASE_URL", default="")
# Parameters travel apart from the statement, and psycopg prepares a statement
# once a connection has run it DB_PREPARE_THRESHOLD times, so PostgreSQL stops
# planning it again: for this site's small indexed queries, planning is most
# of the server's time. A pooler in transaction mode without prepared
# statement support (PgBouncer before 1.22) needs it off: set it empty.
_prepare_threshold = env("DB_PREPARE_THRESHOLD", default="5").strip()
if _prepare_threshold and not _prepare_threshold.isdecimal():
    raise ImproperlyConfigured(
        f"DB_PREPARE_THRESHOLD must be a whole number, or empty to turn prepared statements "
        f"off; it is {_prepare_threshold!r}."
    )
# After a connection to PostgreSQL fails, how long a process fails the requests
# that need one at once (a 503 page) before it tries again (config.postgresql);
# 0 turns the pause off.
DB_UNREACHABLE_PAUSE_SECONDS = env.float("DB_UNREACHABLE_PAUSE_SECONDS", default=2.0)
if DB_UNREACHABLE_PAUSE_SECONDS < 0:
    raise ImproperlyConfigured(
        f"DB_UNREACHABLE_PAUSE_SECONDS must be 0 (no pause) or more; it is "
        f"{DB_UNREACHABLE_PAUSE_SECONDS:g}."
    )
# How long PostgreSQL's host may leave a connection unanswered (a new
# connection, or data sent and not acknowledged) before it counts as lost.
# When the host or the network to it fails, nothing is refused: without this,
# a request on a pooled connection waits for the kernel's retransmissions,
# about 15 minutes, and holds its thread all that time. Idle connections are
# probed (TCP keepalive) as often, so the pool finds the dead ones before a
# request does. A query that runs long is not cut short: the server's kernel
# acknowledges it at once. 0 leaves the kernel's defaults.
DB_NETWORK_TIMEOUT_SECONDS = env.float("DB_NETWORK_TIMEOUT_SECONDS", default=5.0)
if DB_NETWORK_TIMEOUT_SECONDS < 0:
    raise ImproperlyConfigured(
        f"DB_NETWORK_TIMEOUT_SECONDS must be 0 (the kernel's defaults) or more; it is "
        f"{DB_NETWORK_TIMEOUT_SECONDS:g}."
    )


def _network_timeout_options(seconds: float) -> dict[str, int]:
    """libpq's connection parameters for a connection that counts as lost after ``seconds``."""
    if seconds <= 0:
        return {}
    whole = max(1, math.ceil(seconds))
    return {
        # libpq counts whole seconds and treats anything under 2 as 2.
        "connect_timeout": max(2, whole),
        "tcp_user_timeout": math.ceil(seconds * 1000),
        "keepalives": 1,
        "keepalives_idle": whole,
        "keepalives_interval": 1,
        "keepalives_count": whole,
    }


POSTGRES_OPTIONS = {
    "server_side_binding": True,
    "prepare_threshold": int(_prepare_threshold) if _prepare_threshold else None,
}


def postgres_options(url_options: dict) -> dict:
    """OPTIONS for PostgreSQL: network defaults, then DATABASE_URL's own, then the binding."""
    return {
        **_network_timeout_options(DB_NETWORK_TIMEOUT_SECONDS),
        **url_options,
        **POSTGRES_OPTIONS,
    }


if DATABASE_URL:
    _db = env.db_url_config(DATABASE_URL)
    _db["ATOMIC_REQUESTS"] = ATOMIC_REQUESTS
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # Django's, failing at once while the server cannot be reached.
        _db["ENGINE"] = "config.postgresql"
        # Django's native psycopg 3 pool replaces persistent connections, so
        # CONN_MAX_AGE must stay 0; health checks drop connections the server
        # closed before they reach a request. A web process's two threads
        # never empty a pool of 20, so a request waits for one only while a
        # new connection is made: the timeout is how long the first requests
        # of an outage hang before config.postgresql fails the rest at once.
        _db["CONN_MAX_AGE"] = 0
        _db["CONN_HEALTH_CHECKS"] = True
        _db["OPTIONS"] = postgres_options(_db.get("OPTIONS", {}))
        _db["OPTIONS"]["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
            "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
        }
    DATABASES = {"default": _db}
else:
    SQLITE_PATH = Path(env("SQLITE_PATH", default=str(BASE_DIR / "var" / "db.sqlite3")))
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "ATOMIC_REQUESTS": ATOMIC_REQUESTS,
            # IMMEDIATE takes the write lock when a transaction starts, so two
            # writers queue instead of failing with "database is locked"
            # halfway through; WAL lets readers go on while one writes.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Queries slower than this are logged with their SQL by hotel.observability.
SLOW_QUERY_MS = env.float("SLOW_QUERY_MS", default=200.0)

# --- Cache ------------------------------------------------------------------

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="hotel"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "PARSER_CLASS": "redis.connection._HiredisParser",
                # After Redis did not answer, fail at once for CACHE_RETRY_INTERVAL.
                "CONNECTION_POOL_CLASS": "caching.connections.PausingConnectionPool",
                # Short timeouts plus IGNORE_EXCEPTIONS make the cache fail
                # open: a Redis outage costs a logged error and a database
                # read, never a 500.
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.25),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.25),
                "IGNORE_EXCEPTIONS": True,
                "LOG_IGNORED_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "caching.redis"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "hotel-default",
        }
    }
    # django-ratelimit wants a cache every process shares; the embedded
    # default is one runserver process, whose own counters are all there are.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# Sessions are kept in the database (a Redis restart or eviction logs nobody
# out) and read through the cache: a signed-in or booking guest's every page
# reads its session, and a cache hit spares that query. The cached copy lives
# at most CACHE_SESSION_TTL: Redis missing a logout must not keep it signed in.
# Without Redis the cache is each process's own memory, which one process's
# logout or session write cannot reach in the others: read the database.
SESSION_ENGINE = "caching.sessions" if REDIS_URL else "django.contrib.sessions.backends.db"

# --- Celery -----------------------------------------------------------------

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
# Without a broker tasks run in the calling process, so the embedded default
# needs no worker; the in-memory transport keeps anything that still opens a
# broker connection from reaching for an AMQP server on localhost.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# A task is acknowledged after it ran and redelivered if its worker died, so
# every task must be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
# One visibility timeout for the broker and the result transport, longer than
# the longest task (the nightly backup), so Redis never redelivers a task that
# is still running.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens in on_commit hooks of web requests: with the broker down,
# give up within a couple of seconds (the outbox sweeper sends the row later)
# instead of holding the request for the defaults' retries.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = CELERY_BROKER_CONNECTION_TIMEOUT
# A publish on a connection to a broker whose host went silent (it refuses
# nothing) waits this long for Redis's answer, not forever. More than the
# 1 s a worker's BRPOP may wait for its answer when it is not in the event loop.
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=2.0)
if CELERY_BROKER_SOCKET_TIMEOUT <= 1:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_SOCKET_TIMEOUT must be more than 1 s, the longest a worker's BRPOP "
        f"waits for its answer; it is {CELERY_BROKER_SOCKET_TIMEOUT:g}."
    )
CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] = CELERY_BROKER_SOCKET_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# With acks_late, a worker that loses the broker must stop its running tasks:
# the broker redelivers them, and letting them finish would run them twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# The repeating sweeps expire a little before the next one is due: after a
# worker outage the queue would otherwise hold one per period missed, each
# doing the same work again ahead of the guests' confirmations.
CELERY_BEAT_SCHEDULE: dict = {
    # The outbox safety net: rows the broker never got, workers that died,
    # retries whose message was lost, reminders that came due.
    "notifications-sweep": {
        "task": "notifications.sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "notifications-backfill-reminders": {
        "task": "notifications.backfill_reminders",
        "schedule": 3600.0,
        "options": {"expires": 3300},
    },
    # Holds are released lazily before any new hold on their nights; this only
    # gives lapsed holds' rooms back to search results sooner.
    "bookings-expire-holds": {
        "task": "bookings.expire_holds",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Daily: extends the rolling inventory window by the night now in reach;
    # idempotent, so a missed or repeated run does no harm.
    "inventory-keep-window": {
        "task": "inventory.keep_window",
        "schedule": crontab(hour=2, minute=30),
    },
}

# --- Email ------------------------------------------------------------------

EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Hotel bookings <bookings@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# --- Auth -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "hotel:home"
LOGOUT_REDIRECT_URL = "hotel:home"

# Password guessing: django-axes counts failed logins (the guest login and the
# staff admin alike) and refuses further attempts for a while. The count is
# per account and address together, so nobody can lock a guest out from
# elsewhere and a hotel's shared Wi-Fi address does not lock out every guest
# behind it. Behind a proxy, AXES_IPWARE_PROXY_COUNT says how many hops to trust.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# Cut to what axes can store: a longer one made the login page answer 500.
AXES_USERNAME_CALLABLE = "bookings.login_throttle.axes_username"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0) or None
# The address counted: REMOTE_ADDR, or behind that many proxies the one they forward.
AXES_CLIENT_IP_CALLABLE = "bookings.login_throttle.axes_client_ip"

# Password reset emails: each request mails whatever address is typed in, so
# requests are capped per address and per client (django-ratelimit, counting
# in the cache; "3/h" is three an hour). A Redis outage lets requests through:
# a guest locked out of their account matters more than a flood while it lasts.
PASSWORD_RESET_RATE_PER_EMAIL = env("PASSWORD_RESET_RATE_PER_EMAIL", default="3/h")
PASSWORD_RESET_RATE_PER_CLIENT = env("PASSWORD_RESET_RATE_PER_CLIENT", default="10/h")
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Domain -----------------------------------------------------------------

BOOKING_MAX_NIGHTS = env.int("BOOKING_MAX_NIGHTS", default=30)
BOOKING_HOLD_MINUTES = env.int("BOOKING_HOLD_MINUTES", default=10)
INVENTORY_WINDOW_DAYS = env.int("INVENTORY_WINDOW_DAYS", default=400)
BACKUP_DIR = Path(env("BACKUP_DIR", default=str(BASE_DIR / "var" / "backups")))
# Backups (backups app): the client tools must match the server's major version.
BACKUP_PG_DUMP = env("BACKUP_PG_DUMP", default="pg_dump")
BACKUP_PG_RESTORE = env("BACKUP_PG_RESTORE", default="pg_restore")
BACKUP_PSQL = env("BACKUP_PSQL", default="psql")
# Verification restores into a scratch database created from this one.
BACKUP_PG_MAINTENANCE_DB = env("BACKUP_PG_MAINTENANCE_DB", default="postgres")
# A backup waits at most this long for a table lock, then fails, rather than
# queue behind a migration's exclusive lock and make every request queue too.
BACKUP_LOCK_TIMEOUT_SECONDS = env.float("BACKUP_LOCK_TIMEOUT_SECONDS", default=10.0)
# Retention: the N latest, one a day for N days, one a week for N weeks; the
# newest verified backup is kept whatever these say.
BACKUP_KEEP_LAST = env.int("BACKUP_KEEP_LAST", default=7)
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=4)
# /health/ is degraded when the newest verified backup is older than this.
BACKUP_MAX_AGE_HOURS = env.float("BACKUP_MAX_AGE_HOURS", default=36.0)
# Backup and verify tasks outlive the default task limits, and stay under the
# broker's visibility timeout so Redis never hands a running backup to a
# second worker.
BACKUP_TASK_SOFT_TIME_LIMIT = env.int("BACKUP_TASK_SOFT_TIME_LIMIT", default=3000)
BACKUP_TASK_TIME_LIMIT = env.int("BACKUP_TASK_TIME_LIMIT", default=3300)
APP_VERSION = env("APP_VERSION", default="")
# Nightly (UTC): backup, then verify it by restoring, then prune, as one chain.
CELERY_BEAT_SCHEDULE["backups-nightly"] = {
    "task": "backups.nightly",
    "schedule": crontab(
        hour=env.int("BACKUP_NIGHTLY_HOUR", default=3),
        minute=env.int("BACKUP_NIGHTLY_MINUTE", default=15),
    ),
}

# Notifications: the pre-arrival reminder goes out this many days before
# check-in at this hour in the hotel's time zone; a send that fails for a
# passing reason is retried with exponential backoff up to MAX_ATTEMPTS.
NOTIFICATION_REMINDER_DAYS_BEFORE = env.int("NOTIFICATION_REMINDER_DAYS_BEFORE", default=2)
NOTIFICATION_REMINDER_HOUR = env.int("NOTIFICATION_REMINDER_HOUR", default=10)
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_RETRY_BASE_SECONDS = env.int("NOTIFICATION_RETRY_BASE_SECONDS", default=30)
# A claim older than this means the worker died mid-send; longer than the
# task's hard time limit so a slow send is never taken over.
NOTIFICATION_SENDING_LEASE_SECONDS = env.int("NOTIFICATION_SENDING_LEASE_SECONDS", default=300)
NOTIFICATION_SWEEP_BATCH = env.int("NOTIFICATION_SWEEP_BATCH", default=500)
# After a failed publish a process leaves the broker alone this long: each
# try costs a guest's request the publish retries, and the sweeper sends the
# rows left pending once the broker is back.
NOTIFICATION_PUBLISH_PAUSE_SECONDS = env.float("NOTIFICATION_PUBLISH_PAUSE_SECONDS", default=5.0)

# --- Observability ----------------------------------------------------------

DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": True,
    "VALIDATE_GUID": False,
    "UUID_LENGTH": 32,
    "INTEGRATIONS": [],
}

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="keyvalue")  # keyvalue or json
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation_id": {"()": "django_guid.log_filters.CorrelationId"},
    },
    "formatters": {
        "keyvalue": {
            "format": (
                "ts=%(asctime)s level=%(levelname)s logger=%(name)s "
                'request_id=%(correlation_id)s msg="%(message)s"'
            ),
        },
        "json": {"()": "hotel.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["correlation_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO", "propagate": True},
        "hotel.slow_query": {"level": "WARNING", "propagate": True},
        "django_guid": {"level": "WARNING", "propagate": True},
    },
}

# --- Read cache (caching app) -------------------------------------------------
# Two tiers: a per-process LRU in front of the Django cache. The version check
# interval is the bound on how long any process serves a value after the
# write that changed it committed (at most 1 s, enforced by caching.E001).

CACHE_LOCAL_MAX_ENTRIES = env.int("CACHE_LOCAL_MAX_ENTRIES", default=2000)
CACHE_LOCAL_MAX_BYTES = env.int("CACHE_LOCAL_MAX_BYTES", default=64 * 1024 * 1024)
CACHE_LOCAL_TTL = env.float("CACHE_LOCAL_TTL", default=30.0)
CACHE_DEFAULT_TTL = env.int("CACHE_DEFAULT_TTL", default=60)
CACHE_VERSION_CHECK_INTERVAL = env.float("CACHE_VERSION_CHECK_INTERVAL", default=0.5)
CACHE_STAMPEDE_LOCK = env.bool("CACHE_STAMPEDE_LOCK", default=True)
CACHE_STAMPEDE_LOCK_TIMEOUT = env.float("CACHE_STAMPEDE_LOCK_TIMEOUT", default=5.0)
CACHE_RETRY_INTERVAL = env.float("CACHE_RETRY_INTERVAL", default=5.0)
CACHE_ERROR_LOG_INTERVAL = env.float("CACHE_ERROR_LOG_INTERVAL", default=60.0)
CACHE_STATS_FLUSH_INTERVAL = env.float("CACHE_STATS_FLUSH_INTERVAL", default=10.0)
CACHE_FRAGMENT_MAX_ENTRIES = env.int("CACHE_FRAGMENT_MAX_ENTRIES", default=20000)
CACHE_FRAGMENT_MAX_BYTES = env.int("CACHE_FRAGMENT_MAX_BYTES", default=32 * 1024 * 1024)
CACHE_PAGE_MAX_ENTRIES = env.int("CACHE_PAGE_MAX_ENTRIES", default=5000)
CACHE_PAGE_MAX_BYTES = env.int("CACHE_PAGE_MAX_BYTES", default=32 * 1024 * 1024)

# django-redis logs every error it swallows; during an outage that is one
# line per cache call, so its logger lets each message through once a minute.
LOGGING["filters"]["cache_error_rate_limit"] = {"()": "caching.log.RateLimitFilter"}
LOGGING["loggers"]["caching.redis"] = {
    "level": "WARNING",
    "filters": ["cache_error_rate_limit"],
    "propagate": True,
}
