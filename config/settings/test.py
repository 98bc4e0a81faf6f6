"""The test suite: always PostgreSQL and Redis, never the embedded default."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import CACHES, LOGGING, env, postgres_options

SECRET_KEY = "test-only-secret-key-not-for-production"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

_db = env.db_url_config(env("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/hotel"))
DATABASES = {
    "default": {
        **_db,
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": 0,
        # As base.py merges them: the URL's own options (sslmode, ...) stay.
        "OPTIONS": postgres_options(_db.get("OPTIONS", {})),
    }
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("The test suite runs on PostgreSQL: set DATABASE_URL to a postgres:// URL.")
DATABASES["default"]["ENGINE"] = "config.postgresql"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        **CACHES.get("default", {}),
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="hotel-test"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PARSER_CLASS": "redis.connection._HiredisParser",
            # After Redis did not answer, fail at once for CACHE_RETRY_INTERVAL.
            "CONNECTION_POOL_CLASS": "caching.connections.PausingConnectionPool",
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.25,
            "IGNORE_EXCEPTIONS": True,
            "LOG_IGNORED_EXCEPTIONS": True,
        },
    }
}

# base.py read REDIS_URL from the environment, which may have left it unset.
SESSION_ENGINE = "caching.sessions"

# Unit tests run tasks inline; tests about Celery start a real worker on the
# Redis broker themselves (tests/conftest.py: celery_worker_on_redis).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
BACKUP_DIR = Path(env("BACKUP_DIR", default="/tmp/hotel-test-backups"))  # noqa: S108
LOGGING["root"]["level"] = "WARNING"
# Serve static files from the app folders, as in development: the suite does
# not run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
