"""No physical room is given to two stays that overlap, enforced by PostgreSQL.

Django's ExclusionConstraint would make this migration fail on SQLite (the
embedded default), so the constraint is created with SQL that runs on
PostgreSQL only; bookings.services.booking_assign_room checks the same rule in
Python so both databases give the same answer. btree_gist lets the GiST index
compare the room id with "=" beside the date range's "&&".
"""

from django.db import migrations

CONSTRAINT = "booking_room_no_overlap"
OCCUPYING = "('confirmed', 'checked_in', 'checked_out')"


def create_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE bookings_booking ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (room_id WITH =, daterange(check_in, check_out, '[)') WITH &&) "
        f"WHERE (room_id IS NOT NULL AND status IN {OCCUPYING})"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("bookings", "0002_policy_room_indexes")]

    operations = [migrations.RunPython(create_constraint, drop_constraint, elidable=False)]
