from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from backups.models import BackupRecord
from backups.services import backup_create, backup_verify

from ._base import BackupCommand, CommandError


class Command(BackupCommand):
    help = (
        "Take (and verify) a backup when there are unapplied migrations; do nothing otherwise. "
        "`make migrate` runs it before `migrate`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-verify", action="store_true", help="Skip restoring the backup to check it."
        )

    def handle(self, *args, no_verify: bool, **options):
        connection = connections[DEFAULT_DB_ALIAS]
        tables = set(connection.introspection.table_names())
        if "django_migrations" not in tables:
            self.stdout.write("The database has no schema yet: nothing to back up.")
            return
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan:
            self.stdout.write("No unapplied migrations: no backup needed.")
            return
        if BackupRecord._meta.db_table not in tables:
            self.stdout.write(
                self.style.WARNING(
                    "The backups table does not exist yet (first migration of the backups "
                    "app): no backup can be recorded before this migrate."
                )
            )
            return
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:10])
        more = f" and {len(plan) - 10} more" if len(plan) > 10 else ""
        self.stdout.write(f"{len(plan)} unapplied migrations ({names}{more}): backing up first.")
        record = backup_create(reason=BackupRecord.Reason.PRE_MIGRATE, progress=self.progress)
        if not no_verify:
            record = backup_verify(backup=record, progress=self.progress)
            if record.status != BackupRecord.Status.VERIFIED:
                raise CommandError(
                    f"The pre-migration backup #{record.pk} failed verification: {record.error}. "
                    "Not migrating."
                )
        self.stdout.write(self.style.SUCCESS(f"Backup {self.describe(record)}: {record.path}"))
