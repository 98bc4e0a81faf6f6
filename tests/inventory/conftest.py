from datetime import date, timedelta

import pytest


@pytest.fixture
def future():
    """A date well ahead, so stays pass the guest form's past-date check."""
    return date.today() + timedelta(days=30)
