import pytest
from django.db import IntegrityError

from tests.factories import RoomInventoryFactory


@pytest.mark.django_db
def test_database_refuses_more_sold_than_total():
    with pytest.raises(IntegrityError):
        RoomInventoryFactory(total=1, sold=2)
