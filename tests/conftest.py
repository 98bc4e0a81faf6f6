import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (the test Redis database is the suite's own)."""
    from caching.api import reset_process_state

    cache.clear()
    reset_process_state()
    yield
    cache.clear()
    reset_process_state()


@pytest.fixture
def staff_client(client, django_user_model):
    from tests.factories import StaffFactory

    client.force_login(StaffFactory())
    return client
