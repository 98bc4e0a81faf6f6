import logging

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (the test Redis database is the suite's own)
    and with the broker, the cache and the database tried again, whatever the last
    test's outage."""
    from caching.api import reset_process_state
    from config.postgresql.base import reset_outages
    from notifications.services import reset_publish_pause

    cache.clear()
    reset_process_state()
    reset_publish_pause()
    reset_outages()
    yield
    cache.clear()
    reset_process_state()
    reset_publish_pause()
    reset_outages()


@pytest.fixture(autouse=True)
def _root_log_level():
    """A Celery worker started in a test sets the root logger to its own level
    (ERROR) and leaves it there: later tests would see no warnings at all."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.fixture
def staff_client(client, django_user_model):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    return client
