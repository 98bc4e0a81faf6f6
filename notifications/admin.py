from django.contrib import admin, messages
from django.db.models import QuerySet
from django.template.defaultfilters import truncatechars
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from hotel.admin_mixins import CheckedSelectionMixin

from .exceptions import NotificationError
from .models import Notification
from .services import notification_resend, render_notification


class HotelFilter(admin.SimpleListFilter):
    title = _("hotel")
    parameter_name = "hotel"

    def lookups(self, request, model_admin):
        from hotel.models import Hotel

        return list(Hotel.objects.order_by("name").values_list("pk", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(booking__hotel_id=self.value())
        return queryset


@admin.register(Notification)
class NotificationAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "recipient",
        "booking_link",
        "hotel_name",
        "status",
        "attempts",
        "scheduled_at",
        "sent_at",
        "error_summary",
    ]
    list_filter = [
        "status",
        "kind",
        HotelFilter,
        ("created_at", admin.DateFieldListFilter),
        ("scheduled_at", admin.DateFieldListFilter),
    ]
    search_fields = ["recipient", "=booking__reference", "dedupe_key"]
    list_select_related = ["booking__hotel"]
    list_per_page = 50
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["resend"]
    fieldsets = [
        (None, {"fields": ["kind", "channel", "recipient", "booking_link", "status"]}),
        (
            _("Delivery"),
            {
                "fields": [
                    "attempts",
                    "last_error",
                    "scheduled_at",
                    "claimed_at",
                    "sent_at",
                    "dedupe_key",
                    "resent_from",
                    "resends_list",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (_("Message"), {"fields": ["template", "preview"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The outbox is a record of what was promised and sent: staff act on
        # it with the resend action, never by editing a row.
        return [
            *(f.name for f in Notification._meta.fields),
            "booking_link",
            "resends_list",
            "preview",
        ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    @admin.display(description=_("booking"), ordering="booking__reference")
    def booking_link(self, obj: Notification) -> str:
        if obj.booking_id is None:
            return "—"
        try:
            url = reverse("admin:bookings_booking_change", args=[obj.booking_id])
        except NoReverseMatch:
            return obj.booking.reference
        return format_html('<a href="{}">{}</a>', url, obj.booking.reference)

    @admin.display(description=_("hotel"))
    def hotel_name(self, obj: Notification) -> str:
        return obj.booking.hotel.name if obj.booking_id else "—"

    @admin.display(description=_("last error"))
    def error_summary(self, obj: Notification) -> str:
        return truncatechars(obj.last_error, 80)

    @admin.display(description=_("resent as"))
    def resends_list(self, obj: Notification) -> str:
        links = [
            format_html(
                '<a href="{}">#{} ({})</a>',
                reverse("admin:notifications_notification_change", args=[resend.pk]),
                resend.pk,
                resend.get_status_display(),
            )
            for resend in obj.resends.order_by("created_at")
        ]
        return format_html("{}", ", ".join(links)) if links else "—"

    @admin.display(description=_("preview"))
    def preview(self, obj: Notification) -> str:
        """What the recipient got (once sent) or would get now (before)."""
        if obj.status == Notification.Status.SENT or not obj.template:
            subject, text, html = obj.subject, obj.body_text, obj.body_html
        else:
            try:
                rendered = render_notification(obj)
            except Exception as exc:
                return format_html(
                    '<p class="errornote">{}</p>',
                    _("This message cannot be rendered: %(error)s")
                    % {"error": f"{type(exc).__name__}: {exc}"},
                )
            subject, text, html = rendered.subject, rendered.text, rendered.html
        html_part = (
            format_html(
                '<iframe sandbox="" srcdoc="{}" title="{}" '
                'style="width:100%;min-height:480px;border:1px solid #ccc;"></iframe>',
                html,
                _("HTML part"),
            )
            if html
            else ""
        )
        return format_html(
            "<p><strong>{}</strong> {}</p>{}"
            '<pre style="white-space:pre-wrap;border:1px solid #ccc;padding:8px;">{}</pre>',
            _("Subject:"),
            subject,
            html_part,
            text,
        )

    @admin.action(description=_("Resend (as a new message; this one stays as history)"))
    def resend(self, request, queryset: QuerySet[Notification]) -> None:
        resent, refused = 0, []
        for notification in queryset:
            try:
                notification_resend(notification=notification)
            except NotificationError as exc:
                refused.append(str(exc))
            else:
                resent += 1
        if resent:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message queued again.",
                    "%(count)d messages queued again.",
                    resent,
                )
                % {"count": resent},
                messages.SUCCESS,
            )
        for message in refused:
            self.message_user(request, message, messages.WARNING)
