from pathlib import Path

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class BackupRecord(models.Model):
    """One backup file, what it held when it was taken, and whether it was proven.

    A backup counts only once it has been restored into a scratch database and
    its row counts and migration state matched its manifest (status verified).
    """

    class Status(models.TextChoices):
        CREATED = "created", _("Created, not yet verified")
        VERIFIED = "verified", _("Verified")
        FAILED = "failed", _("Failed")

    class Reason(models.TextChoices):
        MANUAL = "manual", _("Manual")
        SCHEDULED = "scheduled", _("Nightly")
        PRE_MIGRATE = "pre_migrate", _("Before migrations")
        PRE_RESTORE = "pre_restore", _("Safety copy before a restore")
        IMPORTED = "imported", _("Imported from a file")

    class Vendor(models.TextChoices):
        POSTGRESQL = "postgresql", "PostgreSQL"
        SQLITE = "sqlite", "SQLite"

    path = models.CharField(_("file"), max_length=500, unique=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)
    size_bytes = models.BigIntegerField(_("size in bytes"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    vendor = models.CharField(_("database vendor"), max_length=20, choices=Vendor.choices)
    database_name = models.CharField(_("database"), max_length=255, blank=True)
    table_counts = models.JSONField(_("row count per table"), default=dict, blank=True)
    migrations = models.JSONField(_("latest migration per app"), default=dict, blank=True)
    app_version = models.CharField(_("application version"), max_length=100, blank=True)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, db_index=True)
    error = models.TextField(_("error"), blank=True)
    duration = models.DurationField(_("backup duration"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verify_duration = models.DurationField(_("verification duration"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("backup")
        verbose_name_plural = _("backups")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["created", "verified", "failed"]),
                name="backup_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="verified") | Q(verified_at__isnull=False),
                name="backup_verified_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""),
                name="backup_failed_has_error",
            ),
            models.CheckConstraint(
                condition=Q(size_bytes__isnull=True) | Q(size_bytes__gte=0),
                name="backup_size_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="backup_status_created")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def file_name(self) -> str:
        return Path(self.path).name

    @property
    def manifest_path(self) -> Path:
        return manifest_path_for(Path(self.path))


def manifest_path_for(path: Path) -> Path:
    """The JSON manifest lives beside its backup file: ``<file>.json``."""
    return path.with_name(path.name + ".json")
