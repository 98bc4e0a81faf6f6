"""Drop the indexes that writes maintain and no read needs.

Each foreign key below leads a composite index (guest, -check_in), (hotel,
...), (room, check_in), (booking, date) and (booking, at), so its own index
only slowed every insert and status change. The indexes are dropped by
name rather than through AlterField, which on PostgreSQL would also drop
and re-validate the foreign keys under an exclusive lock.

reference and idempotency_key become named unique constraints: the same
uniqueness without the varchar_pattern_ops LIKE index that unique=True adds.
"""

import bookings.models
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0003_room_assignment_exclusion'),
        ('hotel', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='booking',
                    name='guest',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='bookings', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='booking',
                    name='hotel',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='bookings', to='hotel.hotel'),
                ),
                migrations.AlterField(
                    model_name='booking',
                    name='room',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='bookings', to='hotel.room'),
                ),
                migrations.AlterField(
                    model_name='bookingevent',
                    name='booking',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='bookings.booking'),
                ),
                migrations.AlterField(
                    model_name='bookingnight',
                    name='booking',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='night_prices', to='bookings.booking'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "bookings_booking_guest_id_8ba294cc"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "bookings_booking_guest_id_8ba294cc" ON "bookings_booking" ("guest_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "bookings_booking_hotel_id_e1f8132f"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "bookings_booking_hotel_id_e1f8132f" ON "bookings_booking" ("hotel_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "bookings_booking_room_id_6f0fa517"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "bookings_booking_room_id_6f0fa517" ON "bookings_booking" ("room_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "bookings_bookingevent_booking_id_98f25503"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "bookings_bookingevent_booking_id_98f25503" ON "bookings_bookingevent" ("booking_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "bookings_bookingnight_booking_id_963f3c89"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "bookings_bookingnight_booking_id_963f3c89" ON "bookings_bookingnight" ("booking_id")',
                ),
            ],
        ),
        migrations.AlterField(
            model_name='booking',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='booking',
            name='reference',
            field=models.CharField(default=bookings.models.new_reference, editable=False, max_length=16),
        ),
        migrations.AddConstraint(
            model_name='booking',
            constraint=models.UniqueConstraint(fields=('reference',), name='booking_reference_unique'),
        ),
        migrations.AddConstraint(
            model_name='booking',
            constraint=models.UniqueConstraint(fields=('idempotency_key',), name='booking_idempotency_key_unique'),
        ),
    ]
