import logging

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from kombu.exceptions import OperationalError as BrokerUnavailable

from hotel.admin_mixins import CheckedSelectionMixin

from .exceptions import BackupError
from .models import BackupRecord
from .services import backup_verify
from .tasks import backup_verify_task

logger = logging.getLogger(__name__)


@admin.register(BackupRecord)
class BackupRecordAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    """Backups are made by commands and tasks; the admin shows them and queues checks."""

    list_display = (
        "id",
        "file_name",
        "status",
        "size",
        "age",
        "reason",
        "vendor",
        "verified_at",
        "duration",
    )
    list_filter = ("status", "reason", "vendor")
    search_fields = ("path", "sha256", "error")
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["verify_now"]
    readonly_fields = [f.name for f in BackupRecord._meta.fields]

    @admin.display(description=_("file"), ordering="path")
    def file_name(self, obj: BackupRecord) -> str:
        return obj.file_name

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, obj: BackupRecord) -> str:
        return "—" if obj.size_bytes is None else filesizeformat(obj.size_bytes)

    @admin.display(description=_("age"), ordering="-created_at")
    def age(self, obj: BackupRecord) -> str:
        return timesince(obj.created_at, timezone.now())

    @admin.action(description=_("Verify now (restore into a scratch database)"))
    def verify_now(self, request, queryset):
        if backup_verify_task.app.conf.task_always_eager:
            # No task queue (the embedded default): the task would run inside
            # this request anyway, so it is done here and each outcome shown.
            self._verify_here(request, queryset)
            return
        ids = sorted(queryset.values_list("pk", flat=True))
        queued = []
        for pk in ids:
            try:
                backup_verify_task.delay(backup_id=pk)
            except BrokerUnavailable:
                # The broker is down: the rest would each wait for it as long.
                logger.warning("Could not queue the verification of backup %s.", pk, exc_info=True)
                break
            queued.append(pk)
        if queued:
            self.message_user(
                request,
                ngettext(
                    "Queued the verification of %(count)d backup.",
                    "Queued the verification of %(count)d backups.",
                    len(queued),
                )
                % {"count": len(queued)},
                messages.SUCCESS,
            )
        if len(queued) < len(ids):
            left = ", ".join(f"#{pk}" for pk in ids[len(queued) :])
            self.message_user(
                request,
                _(
                    "Could not queue the verification of %(left)s: the task queue does not "
                    "answer. Try again later, or run manage.py verify_backup ID on the server."
                )
                % {"left": left},
                messages.ERROR,
            )

    def _verify_here(self, request, queryset) -> None:
        verified: list[int] = []
        records = list(queryset.order_by("pk"))
        for index, record in enumerate(records):
            try:
                record = backup_verify(backup=record)
            except BackupError as exc:
                # Busy or unreachable: the rest would fail the same way.
                left = ", ".join(f"#{r.pk}" for r in records[index:])
                self.message_user(
                    request,
                    _("Could not verify %(left)s: %(reason)s")
                    % {"left": left, "reason": exc.message},
                    messages.ERROR,
                )
                break
            if record.status == BackupRecord.Status.VERIFIED:
                verified.append(record.pk)
            else:
                self.message_user(
                    request,
                    _("Backup #%(id)s failed its verification: %(error)s")
                    % {"id": record.pk, "error": record.error},
                    messages.ERROR,
                )
        if verified:
            self.message_user(
                request,
                _("Verified %(ids)s.") % {"ids": ", ".join(f"#{pk}" for pk in verified)},
                messages.SUCCESS,
            )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a record would orphan its file; prune_backups deletes both.
        return False
