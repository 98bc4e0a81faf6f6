from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One message in the outbox.

    The row is written in the same transaction as the event it reports, with
    either the template and a snapshot of its context or a ready subject and
    body, so what is sent is what was true at the event, whenever it goes out.
    Once sent, the rendered subject and bodies stay on the row as the record of
    what the recipient received.
    """

    class Kind(models.TextChoices):
        BOOKING_CONFIRMED = "booking_confirmed", _("Booking confirmed")
        BOOKING_CANCELLED = "booking_cancelled", _("Booking cancelled")
        ARRIVAL_REMINDER = "arrival_reminder", _("Pre-arrival reminder")
        PAYMENT_RECEIPT = "payment_receipt", _("Payment receipt")
        WAITLIST_OFFER = "waitlist_offer", _("Waitlist offer")
        STAFF_ALERT = "staff_alert", _("Staff alert")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    # Not an EmailField: a bad address must still be recorded, then failed
    # with the reason where staff can see it, instead of losing the message.
    recipient = models.CharField(max_length=254)
    # Indexed by (booking, kind) below.
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        db_index=False,
    )
    template = models.CharField(
        max_length=200,
        blank=True,
        help_text=_(
            "Base name under notifications/templates/, rendered as <name>_subject.txt, "
            "<name>.txt and <name>.html. Empty when the subject and body are given."
        ),
    )
    context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    scheduled_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When a worker started sending; a stale claim means the worker died."),
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    # Unique through Meta.constraints (no LIKE index to maintain on every insert).
    dedupe_key = models.CharField(max_length=200)
    resent_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resends"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="notification_dedupe_key_unique"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_sent_at",
            ),
            models.CheckConstraint(
                condition=~Q(template="") | ~Q(subject=""),
                name="notification_template_or_subject",
            ),
        ]
        indexes = [
            # The sweeper: due pending rows, and stale sending claims.
            models.Index(fields=["status", "scheduled_at"], name="notification_status_due"),
            models.Index(fields=["booking", "kind"], name="notification_booking_kind"),
            models.Index(fields=["-created_at"], name="notification_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.get_status_display()})"
