"""Drop the indexes that every outbox insert maintains and no read needs.

booking leads the (booking, kind) index, so its own index is dropped by
name (AlterField would also drop and re-validate the foreign key on
PostgreSQL). dedupe_key becomes a named unique constraint: the same
uniqueness, which ON CONFLICT DO NOTHING relies on, without the LIKE index
that unique=True adds.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0004_drop_redundant_indexes"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="notification",
                    name="booking",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="notifications",
                        to="bookings.booking",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "notifications_notification_booking_id_6e796c4c"',
                    reverse_sql=(
                        'CREATE INDEX IF NOT EXISTS "notifications_notification_booking_id_6e796c4c" '
                        'ON "notifications_notification" ("booking_id")'
                    ),
                ),
            ],
        ),
        migrations.AlterField(
            model_name="notification",
            name="dedupe_key",
            field=models.CharField(max_length=200),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(
                fields=("dedupe_key",), name="notification_dedupe_key_unique"
            ),
        ),
    ]
