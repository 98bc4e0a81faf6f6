from django.contrib import admin, messages
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from hotel.admin_mixins import CheckedSelectionMixin

from .models import BackupRecord
from .tasks import backup_verify_task


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
        ids = list(queryset.values_list("pk", flat=True))
        for pk in ids:
            transaction.on_commit(lambda pk=pk: backup_verify_task.delay(backup_id=pk))
        self.message_user(
            request,
            ngettext(
                "Queued the verification of %(count)d backup.",
                "Queued the verification of %(count)d backups.",
                len(ids),
            )
            % {"count": len(ids)},
            messages.SUCCESS,
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a record would orphan its file; prune_backups deletes both.
        return False
