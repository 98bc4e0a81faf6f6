"""The notification outbox: every write to Notification, and its delivery.

A domain service calls ``notification_enqueue`` (or ``notify_booking_event``)
inside its own transaction, so the message exists exactly when the event does.
After the commit a Celery task delivers it; if the broker was down at that
moment, or a worker died mid-send, the sweeper (beat, every minute) finds the
row again. Delivery claims the row with a conditional update before sending,
so two tasks for the same row send one email.
"""

import logging
import smtplib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from celery.exceptions import Retry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import connections, router, transaction
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone

from bookings.links import booking_signed_url
from bookings.selectors import booking_nights
from hotel.rows import check_related_saved

from .exceptions import NotificationError, TransientDeliveryError
from .formatting import format_day, format_money, format_time_of_day
from .models import Notification

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Status = Notification.Status

BOOKING_EVENTS = ("confirmed", "cancelled", "changed")

TEMPLATES = {
    Kind.BOOKING_CONFIRMED: "notifications/email/booking_confirmed",
    Kind.BOOKING_CANCELLED: "notifications/email/booking_cancelled",
    Kind.ARRIVAL_REMINDER: "notifications/email/arrival_reminder",
}


# --- Enqueue ------------------------------------------------------------------


def notification_enqueue(
    *,
    kind: str,
    recipient: str,
    dedupe_key: str,
    booking=None,
    template: str = "",
    context: dict | None = None,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    scheduled_at: datetime | None = None,
) -> Notification:
    """Write a message to the outbox once per dedupe key; deliver it after commit.

    Call it inside the transaction of the event it reports. Give either a
    template base name (rendered at delivery from ``context``, a JSON snapshot
    of the event) or a ready ``subject`` and ``body_text``. A second call with
    the same ``dedupe_key`` returns the first row and sends nothing more.
    A ``scheduled_at`` in the future leaves the row to the sweeper.
    """
    if kind not in Kind.values:
        raise NotificationError(f"Unknown notification kind: {kind!r}.")
    if not dedupe_key:
        raise NotificationError("A notification needs a dedupe key.")
    if not template and not (subject and body_text):
        raise NotificationError("A notification needs a template, or a subject and a body.")
    [notification] = _enqueue_many(
        [
            _new(
                kind=kind,
                recipient=recipient,
                dedupe_key=dedupe_key,
                booking=booking,
                template=template,
                context=context,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                scheduled_at=scheduled_at,
            )
        ]
    )
    return notification


def _new(
    *,
    recipient: str,
    context: dict | None = None,
    scheduled_at: datetime | None = None,
    **fields,
) -> Notification:
    return Notification(
        recipient=(recipient or "").strip(),
        context=context or {},
        scheduled_at=scheduled_at or timezone.now(),
        **fields,
    )


@transaction.atomic(savepoint=False)
def _enqueue_many(rows: list[Notification]) -> list[Notification]:
    """Insert the rows whose dedupe key is new; return the stored row for each, in order.

    ON CONFLICT DO NOTHING makes a duplicate (a service run twice, or two at
    once: the second waits for the first to commit) a no-op without the
    savepoint a failing INSERT would need inside the caller's transaction.
    Its RETURNING names exactly the rows it inserted: those come back as
    given, with their id, as ``create`` returns a row; a key that was
    already stored is read back as stored. One statement when every key is
    new, two otherwise, however many rows.
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(Notification)]
    inserted = _insert_new(rows, connection)
    stored: dict[str, Notification] = {}
    for row in rows:
        if row.dedupe_key in inserted and row.dedupe_key not in stored:
            row.pk = inserted[row.dedupe_key]
            row._state.adding, row._state.db = False, connection.alias
            stored[row.dedupe_key] = row
    if missing := [row.dedupe_key for row in rows if row.dedupe_key not in stored]:
        # From the database written to: a replica may not have them yet.
        stored.update(
            (notification.dedupe_key, notification)
            for notification in Notification.objects.using(connection.alias).filter(
                dedupe_key__in=missing
            )
        )
    now = timezone.now()
    for notification in stored.values():
        if notification.status == Status.PENDING and notification.scheduled_at <= now:
            dispatch_on_commit(notification.pk)
    return [stored[row.dedupe_key] for row in rows]


_INSERT_SQL = (
    "INSERT INTO {table} ({columns}) VALUES {rows}"
    " ON CONFLICT DO NOTHING RETURNING {pk}, {dedupe_key}"
)
# Every column but the id, in the order of the INSERT's values. None has a
# db_default or is generated: each value is the row's own.
_INSERTED_FIELDS = tuple(
    field for field in Notification._meta.concrete_fields if not field.primary_key
)


def _insert_new(rows: list[Notification], connection) -> dict[str, int]:
    """INSERT the rows, skipping any whose dedupe key is stored; the ids of those inserted, by key.

    Plain SQL, as ``bulk_create`` would write it, because ``bulk_create``
    with ``ignore_conflicts`` does not say which rows it inserted. The
    values are prepared as it prepares them (each field's ``pre_save``,
    which stamps ``created_at``, then ``get_db_prep_save``). Where the
    database cannot return rows from an INSERT (SQLite before 3.35), it is
    ``bulk_create`` itself, and no id is known: every row is read back.
    """
    for row in rows:
        check_related_saved(row)
    if not connection.features.can_return_rows_from_bulk_insert:
        Notification.objects.using(connection.alias).bulk_create(rows, ignore_conflicts=True)
        return {}
    quote = connection.ops.quote_name
    row_marks = "(" + ", ".join(["%s"] * len(_INSERTED_FIELDS)) + ")"
    sql = _INSERT_SQL.format(
        table=quote(Notification._meta.db_table),
        columns=", ".join(quote(field.column) for field in _INSERTED_FIELDS),
        rows=", ".join([row_marks] * len(rows)),
        pk=quote(Notification._meta.pk.column),
        dedupe_key=quote(Notification._meta.get_field("dedupe_key").column),
    )
    params = [
        field.get_db_prep_save(field.pre_save(row, True), connection)
        for row in rows
        for field in _INSERTED_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {dedupe_key: pk for pk, dedupe_key in cursor.fetchall()}


def dispatch_on_commit(notification_id: int) -> None:
    """Queue the delivery task once the current transaction commits."""
    transaction.on_commit(lambda: dispatch(notification_id))


# After a publish fails, this process leaves the broker alone until then
# (monotonic seconds): each try holds the guest's request for its retries.
_publish_paused_until = 0.0


def dispatch(notification_id: int) -> bool:
    """Queue the delivery task now; a broker outage is logged, never raised.

    The event has already committed when this runs, so raising would turn a
    booking that succeeded into an error page; the row stays pending and the
    sweeper sends it once the broker is back. Returns whether the task was
    queued.
    """
    from .tasks import deliver_notification_task

    return publish(
        deliver_notification_task,
        what=f"notification {notification_id}",
        otherwise="the sweeper will send it",
        notification_id=notification_id,
    )


def publish(task, /, *, what: str, otherwise: str, **kwargs) -> bool:
    """Queue ``task`` with ``kwargs`` from a request; a broker outage is logged, never raised.

    After a failure the process does not try again for
    NOTIFICATION_PUBLISH_PAUSE_SECONDS: every try costs the request about
    0.2 s of retries (up to CELERY_BROKER_SOCKET_TIMEOUT and more on a
    silent broker), and the caller has another way (``otherwise``, for the
    log). Returns whether the task was queued; False at once during the pause.
    """
    global _publish_paused_until
    if monotonic() < _publish_paused_until:
        return False
    try:
        task.delay(**kwargs)
    except Retry:
        # Eager mode (the embedded default) ran the task here and it asked
        # for a retry; its own state says when it runs again.
        return True
    except Exception:
        if task.app.conf.task_always_eager:
            # No broker: the task itself failed here, and pausing would only
            # hold back the next tasks.
            logger.warning("Could not send %s; %s.", what, otherwise, exc_info=True)
            return False
        pause = settings.NOTIFICATION_PUBLISH_PAUSE_SECONDS
        _publish_paused_until = monotonic() + pause
        logger.warning(
            "Could not queue %s; %s. Not queueing from this process for %g s.",
            what,
            otherwise,
            pause,
            exc_info=True,
        )
        return False
    return True


def reset_publish_pause() -> None:
    """Try the broker again at the next dispatch (tests; a new broker connection)."""
    global _publish_paused_until
    _publish_paused_until = 0.0


# --- Booking events -----------------------------------------------------------


def notify_booking_event(*, booking, event: str) -> list[Notification]:
    """Write the guest's messages for a booking event, once per event.

    ``confirmed``: the confirmation, and the pre-arrival reminder scheduled.
    ``cancelled``: the cancellation (if it had been confirmed), pending reminders cancelled.
    ``changed`` (dates or guest details): the pending reminder moved to the
    new arrival and rewritten with the booking as it now stands.
    Call it inside the booking service's transaction, after the booking is
    saved; it adds a constant handful of queries, whatever the stay's length.
    """
    if event not in BOOKING_EVENTS:
        raise NotificationError(
            f"Unknown booking event {event!r}; expected one of {', '.join(BOOKING_EVENTS)}."
        )
    # Checked before the transaction: a refused event must not break the caller's.
    with transaction.atomic(savepoint=False):
        return _write_booking_event(booking, event)


def _write_booking_event(booking, event: str) -> list[Notification]:
    if event == "cancelled":
        reminders_cancel(booking=booking)
        # A hold given up before confirmation never had a confirmation, so
        # the guest is not told about cancelling it either.
        if booking.confirmed_at is None:
            return []
        return _enqueue_many([_booking_row(booking, Kind.BOOKING_CANCELLED, "cancelled")])
    context = booking_context(booking)
    if event == "changed":
        reminder = reminder_schedule(booking=booking, context=context)
        return [reminder] if reminder is not None else []
    rows = [_booking_row(booking, Kind.BOOKING_CONFIRMED, "confirmed", context)]
    reminder = _reminder_row(booking, context=context, now=timezone.now())
    if reminder is not None:
        rows.append(reminder)
    return _enqueue_many(rows)


def _booking_row(booking, kind: str, event: str, context: dict | None = None) -> Notification:
    return _new(
        kind=kind,
        recipient=booking_recipient(booking),
        booking=booking,
        template=TEMPLATES[kind],
        context=context if context is not None else booking_context(booking),
        dedupe_key=f"booking:{booking.pk}:{event}",
    )


def booking_recipient(booking) -> str:
    if booking.guest_email:
        return booking.guest_email
    if booking.guest_id and booking.guest.email:
        return booking.guest.email
    return ""


def booking_link(booking) -> str:
    """The signed link that opens the booking page without logging in."""
    return booking_signed_url(booking)


def booking_context(booking) -> dict:
    """A JSON snapshot of what the guest's email says, as true at this moment."""
    hotel = booking.hotel
    currency = booking.currency or hotel.currency
    nights = [
        {
            "date": night.date.isoformat(),
            "date_display": format_day(night.date),
            "price": str(night.price),
            "price_display": format_money(night.price, currency),
        }
        for night in booking_nights(booking=booking)
    ]
    return {
        "reference": booking.reference,
        "status": booking.status,
        "guest_name": booking.guest_name,
        "room_type": booking.room_type.name,
        "check_in": booking.check_in.isoformat(),
        "check_out": booking.check_out.isoformat(),
        "check_in_display": format_day(booking.check_in),
        "check_out_display": format_day(booking.check_out),
        "nights_count": booking.nights,
        "adults": booking.adults,
        "children": booking.children,
        "currency": currency,
        "total_price": str(booking.total_price),
        "total_display": format_money(booking.total_price, currency),
        "cancellation_fee_display": (
            format_money(booking.cancellation_fee, currency)
            if booking.cancellation_fee is not None
            else ""
        ),
        "nights": nights,
        "link": booking_link(booking),
        "hotel": {
            "name": hotel.name,
            "address": hotel.address,
            "city": hotel.city,
            "email": hotel.email,
            "phone": hotel.phone,
            "timezone": hotel.timezone,
            "check_in_time": format_time_of_day(hotel.check_in_time),
            "check_out_time": format_time_of_day(hotel.check_out_time),
        },
    }


# --- Reminders ----------------------------------------------------------------


def reminder_time(booking) -> datetime:
    """When the pre-arrival reminder goes out: N days before, at the hotel's local hour."""
    day = booking.check_in - timedelta(days=settings.NOTIFICATION_REMINDER_DAYS_BEFORE)
    local = datetime.combine(
        day, time(hour=settings.NOTIFICATION_REMINDER_HOUR), tzinfo=ZoneInfo(booking.hotel.timezone)
    )
    return local.astimezone(UTC)


def _reminder_key(booking) -> str:
    return f"booking:{booking.pk}:reminder:{booking.check_in.isoformat()}"


def _reminder_row(booking, *, context: dict, now: datetime) -> Notification | None:
    at = reminder_time(booking)
    if at <= now:
        return None
    return _new(
        kind=Kind.ARRIVAL_REMINDER,
        recipient=booking_recipient(booking),
        booking=booking,
        template=TEMPLATES[Kind.ARRIVAL_REMINDER],
        context=context,
        dedupe_key=_reminder_key(booking),
        scheduled_at=at,
    )


@transaction.atomic(savepoint=False)
def reminder_schedule(
    *, booking, now: datetime | None = None, context: dict | None = None
) -> Notification | None:
    """Schedule the pre-arrival reminder for the booking's current arrival date.

    Pending reminders for another arrival date are cancelled (the dates moved);
    one not yet sent for this date is rewritten as the booking now stands.
    Nothing is scheduled when the reminder's time has passed: a guest who
    books the day before arrival has just had the confirmation.
    """
    now = now or timezone.now()
    Notification.objects.filter(
        booking=booking, kind=Kind.ARRIVAL_REMINDER, status=Status.PENDING
    ).exclude(dedupe_key=_reminder_key(booking)).update(status=Status.CANCELLED, updated_at=now)
    row = _reminder_row(
        booking, context=context if context is not None else booking_context(booking), now=now
    )
    if row is None:
        return None
    [stored] = _enqueue_many([row])
    wanted = {
        "status": Status.PENDING,
        "scheduled_at": row.scheduled_at,
        "recipient": row.recipient,
        "context": row.context,
    }
    # Not sent yet, or the dates moved away and back again: it goes out as the
    # booking now stands (a new email address, new times).
    if stored.status in (Status.PENDING, Status.CANCELLED) and any(
        getattr(stored, field) != value for field, value in wanted.items()
    ):
        wanted.update(attempts=0, last_error="")
        Notification.objects.filter(
            pk=stored.pk, status__in=[Status.PENDING, Status.CANCELLED]
        ).update(updated_at=now, **wanted)
        for field, value in wanted.items():
            setattr(stored, field, value)
    return stored


@transaction.atomic(savepoint=False)
def reminders_cancel(*, booking) -> int:
    """Cancel the booking's reminders that have not gone out; return how many."""
    return Notification.objects.filter(
        booking=booking, kind=Kind.ARRIVAL_REMINDER, status=Status.PENDING
    ).update(status=Status.CANCELLED, updated_at=timezone.now())


@transaction.atomic(savepoint=False)
def reminders_backfill(*, now: datetime | None = None) -> int:
    """Schedule reminders missing for confirmed bookings arriving soon; return how many.

    The confirm path schedules them; this covers bookings confirmed before
    reminders existed or with their settings changed. Idempotent by dedupe key.
    """
    from .selectors import bookings_needing_reminder

    now = now or timezone.now()
    count = 0
    for booking in bookings_needing_reminder(now=now):
        if reminder_schedule(booking=booking, now=now) is not None:
            count += 1
    return count


# --- Staff alerts -------------------------------------------------------------


def staff_recipients() -> list[str]:
    emails = (
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    return list(emails) or [email for _name, email in settings.ADMINS]


def notify_staff(*, subject: str, body: str, dedupe_key: str) -> list[Notification]:
    """Email an operational alert to every active staff user (or ADMINS), once per key.

    One row per recipient, so one bad address does not hold back the others.
    With nobody to tell, the alert is logged as an error and nothing is written.
    """
    if not subject.strip() or not body.strip() or not dedupe_key:
        raise NotificationError("A staff alert needs a subject, a body and a dedupe key.")
    recipients = staff_recipients()
    if not recipients:
        logger.error("Staff alert with no recipient (no staff email, no ADMINS): %s", subject)
        return []
    return _enqueue_many(
        [
            _new(
                kind=Kind.STAFF_ALERT,
                recipient=recipient,
                subject=" ".join(subject.split())[:300],
                body_text=body,
                dedupe_key=f"{dedupe_key}:{recipient.lower()}"[:200],
            )
            for recipient in recipients
        ]
    )


# --- Rendering ----------------------------------------------------------------


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_notification(notification: Notification) -> RenderedEmail:
    """Render the message as it will be (or was) sent; template errors propagate."""
    if not notification.template:
        return RenderedEmail(
            subject=notification.subject,
            text=notification.body_text,
            html=notification.body_html,
        )
    context = {**notification.context, "site_url": settings.SITE_URL}
    base = notification.template
    # A subject is one line: templates may wrap it for readability.
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    text = render_to_string(f"{base}.txt", context).strip() + "\n"
    try:
        html_template = get_template(f"{base}.html")
    except TemplateDoesNotExist:
        html = ""
    else:
        html = html_template.render(context)
    return RenderedEmail(subject=subject, text=text, html=html)


def build_message(notification: Notification, rendered: RenderedEmail) -> EmailMultiAlternatives:
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    reply_to = (notification.context.get("hotel") or {}).get("email") or None
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        reply_to=[reply_to] if reply_to else None,
        headers={
            # Stable across retries, so a receiving server can drop a copy
            # whose first attempt was accepted but not acknowledged to us.
            "Message-ID": (
                f"<notification.{notification.pk}."
                f"{int(notification.created_at.timestamp())}@{domain}>"
            ),
            "X-Notification-ID": str(notification.pk),
        },
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    return message


# --- Delivery -----------------------------------------------------------------

SENT = "sent"
SKIPPED = "skipped"
FAILED = "failed"
RETRY = "retry"
CANCELLED = "cancelled"


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt: exponential from the base, capped at an hour."""
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), 3600)


def notification_deliver(*, notification_id: int) -> str:
    """Send one notification if it is pending and due, exactly once; say what happened.

    Not one transaction on purpose: the claim commits before the SMTP
    conversation so that no row lock or connection is held while a slow mail
    server answers; the claim (status ``sending`` plus ``claimed_at``) is what
    keeps a second task away, and the sweeper returns a claim whose worker
    died. Raises TransientDeliveryError when the caller should try again.
    """
    notification = _claim(notification_id)
    if notification is None:
        return SKIPPED
    withdrawn = _withdrawn(notification)
    if withdrawn:
        logger.info("Notification %s cancelled: %s", notification.pk, withdrawn)
        _finish(notification, status=Status.CANCELLED, last_error=withdrawn)
        return CANCELLED
    try:
        validate_email(notification.recipient)
    except ValidationError:
        _finish_failed(notification, f"Invalid recipient address: {notification.recipient!r}.")
        return FAILED
    try:
        rendered = render_notification(notification)
        message = build_message(notification, rendered)
    except Exception as exc:
        # Whatever a template raises fails this row only; it is not retried
        # because the same snapshot would fail the same way.
        logger.exception("Notification %s failed to render", notification.pk)
        _finish_failed(notification, f"Template error: {type(exc).__name__}: {exc}")
        return FAILED
    try:
        message.send()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if _is_permanent(exc):
            _finish_failed(notification, f"Refused by the mail server: {error}")
            return FAILED
        if notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            _finish_failed(notification, f"Gave up after {notification.attempts} attempts: {error}")
            return FAILED
        delay = retry_delay(notification.attempts)
        _finish_retry(notification, error, delay)
        raise TransientDeliveryError(error, retry_in=delay) from exc
    _finish_sent(notification, rendered)
    return SENT


def _withdrawn(notification: Notification) -> str:
    """Why a guest's booking message must not go out now, or "" when it still should."""
    if notification.kind == Kind.BOOKING_CONFIRMED:
        return _confirmation_withdrawn(notification)
    if notification.kind == Kind.ARRIVAL_REMINDER:
        return _reminder_withdrawn(notification)
    return ""


def _confirmation_withdrawn(notification: Notification) -> str:
    """Why a confirmation must not go out now: the booking was cancelled since.

    A confirmation held up (SMTP retries, workers down) can come due after
    the guest cancelled, and "your booking is confirmed" after "your booking
    is cancelled" would leave them unsure which holds. The cancellation
    email, with the same reference, is the last word.
    """
    booking = notification.booking
    if booking is not None and booking.status == booking.Status.CANCELLED:
        return (
            f"Booking {booking.reference} has been cancelled; its confirmation is not sent "
            "(the cancellation email tells the guest)."
        )
    return ""


def _reminder_withdrawn(notification: Notification) -> str:
    """Why a pre-arrival reminder must not go out now, or "" when it still should.

    Cancelling a booking withdraws its pending reminder, but a reminder held
    up (workers down over its hour, retries, a resend) can come due after the
    guest has arrived, been marked a no-show or left: "your stay is coming up"
    would then be wrong, so it is checked against the booking as it stands.
    """
    booking = notification.booking
    if booking is None:
        return "The booking no longer exists; the reminder is not sent."
    if booking.status != booking.Status.CONFIRMED:
        return (
            f"Booking {booking.reference} is no longer confirmed "
            f"({booking.get_status_display().lower()}); the reminder is not sent."
        )
    if timezone.localtime(timezone.now(), booking.hotel.tzinfo).date() > booking.check_in:
        return (
            f"The arrival day of booking {booking.reference} has passed; the reminder is not sent."
        )
    return ""


def _is_permanent(exc: Exception) -> bool:
    """A 5xx for every recipient means the address itself is refused."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    return False


@transaction.atomic
def _claim(notification_id: int) -> Notification | None:
    now = timezone.now()
    notification = (
        Notification.objects.select_for_update(skip_locked=True)
        .filter(pk=notification_id, status=Status.PENDING, scheduled_at__lte=now)
        .first()
    )
    if notification is None:
        return None
    notification.status = Status.SENDING
    notification.attempts += 1
    notification.claimed_at = now
    notification.save(update_fields=["status", "attempts", "claimed_at", "updated_at"])
    return notification


def _finish(notification: Notification, **fields) -> bool:
    # Conditional on our own claim: if the sweeper judged this worker dead and
    # another took the row over, that one's outcome stands.
    updated = Notification.objects.filter(
        pk=notification.pk, status=Status.SENDING, claimed_at=notification.claimed_at
    ).update(updated_at=timezone.now(), **fields)
    return bool(updated)


def _finish_sent(notification: Notification, rendered: RenderedEmail) -> None:
    _finish(
        notification,
        status=Status.SENT,
        sent_at=timezone.now(),
        subject=rendered.subject[:300],
        body_text=rendered.text,
        body_html=rendered.html,
        last_error="",
    )


def _finish_failed(notification: Notification, error: str) -> None:
    logger.warning("Notification %s failed: %s", notification.pk, error)
    _finish(notification, status=Status.FAILED, last_error=error)


def _finish_retry(notification: Notification, error: str, delay: int) -> None:
    logger.info("Notification %s will be retried in %ss: %s", notification.pk, delay, error)
    _finish(
        notification,
        status=Status.PENDING,
        last_error=error,
        scheduled_at=timezone.now() + timedelta(seconds=delay),
        claimed_at=None,
    )


# --- Sweeper ------------------------------------------------------------------


def notifications_sweep(*, now: datetime | None = None) -> list[int]:
    """Queue the due pending rows no task is handling; return the ids it queued.

    A row that could not be queued (the broker is down, or this process has
    paused publishing) stays pending, due, for the next sweep.

    First returns to pending the rows whose worker died mid-send (a claim older
    than the lease, longer than any task may run), or fails them when they had
    their last attempt. Duplicate tasks are harmless: only one can claim a row.
    """
    now = now or timezone.now()
    _recover_stale_claims(now=now)
    due = list(
        Notification.objects.filter(status=Status.PENDING, scheduled_at__lte=now)
        .order_by("scheduled_at")
        .values_list("pk", flat=True)[: settings.NOTIFICATION_SWEEP_BATCH]
    )
    queued = [notification_id for notification_id in due if dispatch(notification_id)]
    if len(queued) < len(due):
        logger.warning(
            "%d of %d due notification(s) could not be queued; the next sweep tries again.",
            len(due) - len(queued),
            len(due),
        )
    return queued


@transaction.atomic
def _recover_stale_claims(*, now: datetime) -> None:
    stale = Notification.objects.filter(
        status=Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.NOTIFICATION_SENDING_LEASE_SECONDS),
    )
    error = "The worker stopped while sending; the message may have gone out once."
    stale.filter(attempts__gte=settings.NOTIFICATION_MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error=error, updated_at=now
    )
    stale.update(status=Status.PENDING, claimed_at=None, last_error=error, updated_at=now)


# --- Staff actions ------------------------------------------------------------


@transaction.atomic
def notification_resend(
    *, notification: Notification, recipient: str | None = None
) -> Notification:
    """Send a message again as a new row; the original stays as it was, for history.

    A guest's message goes to the booking's address as it is now: a failure
    is most often a mistyped address, corrected on the booking before the resend.
    """
    original = Notification.objects.select_for_update().get(pk=notification.pk)
    if original.status in (Status.PENDING, Status.SENDING):
        raise NotificationError(
            f"Notification {original.pk} is still being delivered; "
            "resend it once it has been sent or has failed."
        )
    # Refused here rather than queued and cancelled at delivery, so staff
    # resending a batch see which reminders did not go out, and why.
    withdrawn = _withdrawn(original)
    if withdrawn:
        raise NotificationError(f"Notification {original.pk} is not resent: {withdrawn}")
    [resent] = _enqueue_many(
        [
            _new(
                kind=original.kind,
                channel=original.channel,
                recipient=(
                    recipient
                    or (original.booking and booking_recipient(original.booking))
                    or original.recipient
                ).strip(),
                booking=original.booking,
                template=original.template,
                context=original.context,
                # A template row is rendered again (a fixed template applies); a
                # ready-made message is sent as it was.
                subject="" if original.template else original.subject,
                body_text="" if original.template else original.body_text,
                body_html="" if original.template else original.body_html,
                scheduled_at=timezone.now(),
                resent_from=original,
                dedupe_key=f"resend:{original.pk}:{uuid.uuid4().hex}",
            )
        ]
    )
    return resent
