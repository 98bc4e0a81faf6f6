"""Sessions read through a cache only where every process shares it."""

import json

import pytest
from django.db import connection

from tests.servers import embedded_env, manage

# One process of several: it reads a session (keeping a cached copy, if its
# session engine caches), then another process logs the guest out, which
# deletes the row and whatever that process's own cache holds.
OTHER_PROCESS_LOGS_OUT = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.sessions.models import Session
Store = import_module(settings.SESSION_ENGINE).SessionStore
session = Store()
session["_auth_user_id"] = "1"
session.create()
Store(session.session_key).load()
Session.objects.filter(session_key=session.session_key).delete()
print(json.dumps(Store(session.session_key).load()))
"""


@pytest.mark.django_db(transaction=True)
def test_without_a_shared_cache_a_session_ended_by_another_process_is_over_in_this_one(
    tmp_path,
):
    # given production settings on PostgreSQL and no REDIS_URL: gunicorn's
    # workers each hold their own local-memory cache
    db = connection.settings_dict
    env = embedded_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="a-long-random-secret-for-this-test-only-0123456789",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=(
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
    )

    # when another process logs the guest out
    result = manage("shell", "-c", OTHER_PROCESS_LOGS_OUT, env=env)

    # then this process no longer finds the session
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}
