"""Guest pages: hold, details, review, confirm, booking page, cancel, my bookings, sign up.

Who may open a booking: staff, its owner, the browser that placed the hold
(its reference is kept in the session, for guest checkout), or anyone holding
the signed link from the confirmation email. Anyone else gets a 404, the
same answer as for a reference that does not exist.
"""

from urllib.parse import urlencode

from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from notifications.services import publish

from . import selectors, tasks
from .exceptions import (
    BookingError,
    FeeChanged,
    HoldExpired,
    IllegalTransition,
    StayNotAvailable,
)
from .forms import CancelForm, ConfirmForm, GuestDetailsForm, HoldForm, SignUpForm
from .links import booking_signed_path, booking_token, reference_from_token
from .login_throttle import password_reset_limited
from .models import Booking
from .policy import cancellation_fee, free_until, policy_summary
from .services import (
    FORM_ALREADY_USED,
    booking_cancel,
    booking_claim,
    booking_confirm,
    booking_expire_holds,
    booking_hold,
    booking_update_details,
    stay_has_ended,
)

SESSION_KEY = "booking_references"
SESSION_MAX = 20
BOOKINGS_PER_PAGE = 10


# --- access ------------------------------------------------------------------------


def _remember(request, booking: Booking) -> None:
    refs = [r for r in request.session.get(SESSION_KEY, []) if r != booking.reference]
    request.session[SESSION_KEY] = [booking.reference, *refs][:SESSION_MAX]


def _may_open(request, booking: Booking, *, token: str | None = None) -> bool:
    user = request.user
    if user.is_authenticated and (user.is_staff or booking.guest_id == user.pk):
        return True
    if token and reference_from_token(token) == booking.reference:
        return True
    return booking.reference in request.session.get(SESSION_KEY, [])


def _get_booking(
    request, reference: str, *, token: str | None = None, with_nights: bool = True
) -> Booking:
    try:
        booking = selectors.booking_for_page(reference=reference.upper(), with_nights=with_nights)
    except Booking.DoesNotExist:
        raise Http404(_("No such booking.")) from None
    if not _may_open(request, booking, token=token):
        raise Http404(_("No such booking."))
    return booking


def _search_again_url(booking: Booking) -> str:
    query = urlencode(
        {
            "check_in": booking.check_in.isoformat(),
            "check_out": booking.check_out.isoformat(),
            "adults": booking.adults,
            "children": booking.children,
        }
    )
    return f"{booking.hotel.get_absolute_url()}?{query}"


def _expired(request, booking: Booking):
    # Give the nights back now rather than at the next sweep; a no-op if the
    # job or another hold got there first.
    booking_expire_holds(booking_ids=[booking.pk])
    return render(
        request,
        "bookings/expired.html",
        {"booking": booking, "search_again_url": _search_again_url(booking)},
        status=410,
    )


def _claim_if_mine(request, booking: Booking) -> Booking:
    # A guest who held without an account and then logged in (or signed up)
    # in the same browser finds the booking under My bookings.
    user = request.user
    if (
        user.is_authenticated
        and booking.guest_id is None
        and booking.reference in request.session.get(SESSION_KEY, [])
    ):
        claimed = booking_claim(booking=booking, guest=user)
        booking.guest, booking.guest_name, booking.guest_email = (
            user,
            claimed.guest_name,
            claimed.guest_email,
        )
    return booking


def _hold_step(request, reference: str):
    """The booking behind a step of the hold flow, or the response that replaces the step."""
    # A post that succeeds redirects: its nights are read only if the form is shown again.
    with_nights = request.method != "POST"
    booking = _claim_if_mine(request, _get_booking(request, reference, with_nights=with_nights))
    if booking.status == Booking.Status.CONFIRMED:
        return booking, redirect("bookings:confirmed", reference=booking.reference)
    if booking.status == Booking.Status.EXPIRED or (
        booking.status == Booking.Status.HOLD and booking.hold_expires_at <= timezone.now()
    ):
        return booking, _expired(request, booking)
    if booking.status != Booking.Status.HOLD:
        return booking, redirect(booking)
    return booking, None


# --- the hold flow --------------------------------------------------------------


@require_POST
def hold(request):
    form = HoldForm(request.POST)
    if not form.is_valid():
        return render(request, "bookings/hold_refused.html", {"form": form}, status=400)
    data = form.cleaned_data
    room_type = data["room_type"]
    user = request.user if request.user.is_authenticated else None
    key = data.get("idempotency_key") or None
    browser_key = _browser_key(request, key)
    try:
        booking = booking_hold(
            room_type=room_type,
            check_in=data["check_in"],
            check_out=data["check_out"],
            adults=data["adults"],
            children=data["children"],
            guest=user,
            idempotency_key=browser_key or key,
        )
    except StayNotAvailable as exc:
        return render(
            request,
            "bookings/unavailable.html",
            {
                "room_type": room_type,
                "hotel": room_type.hotel,
                "nights": exc.nights,
                "stay": data,
                "alternatives": _alternatives(room_type, data),
            },
            status=409,
        )
    except BookingError as exc:
        form.add_error(None, str(exc))
        return render(request, "bookings/hold_refused.html", {"form": form}, status=400)
    if (
        getattr(booking, "replayed", False)
        and browser_key is None
        and not _may_open(request, booking)
    ):
        # The key came from a form this browser never submitted.
        form.add_error(None, str(FORM_ALREADY_USED))
        return render(request, "bookings/hold_refused.html", {"form": form}, status=400)
    _remember(request, booking)
    return redirect("bookings:details", reference=booking.reference)


def _browser_key(request, key: str | None) -> str | None:
    """The hold form's key bound to this browser's CSRF cookie; None when there is none.

    A double click sends the second submit before the first answer (and the
    session cookie it sets) arrives, so the session cannot tell it from a key
    copied into another browser. The CSRF cookie can: the page that showed
    the form set it, and both submits carry it. The same key sent from
    another browser is another key, and never finds this browser's hold.
    """
    secret = request.META.get("CSRF_COOKIE")
    if not key or not secret:
        return None
    return salted_hmac("bookings.hold", f"{key}:{secret}", algorithm="sha256").hexdigest()


def _alternatives(room_type, stay: dict) -> list:
    from inventory.selectors import hotel_availability

    options = hotel_availability(
        hotel=room_type.hotel,
        check_in=stay["check_in"],
        check_out=stay["check_out"],
        adults=stay["adults"],
        children=stay["children"],
        use_cache=False,
    )
    return [o for o in options if o.bookable and o.room_type.pk != room_type.pk]


@never_cache
@require_http_methods(["GET", "POST"])
def details(request, reference: str):
    booking, replacement = _hold_step(request, reference)
    if replacement is not None:
        return replacement
    initial = {
        "guest_name": booking.guest_name,
        "guest_email": booking.guest_email,
        "guest_phone": booking.guest_phone,
        "special_requests": booking.special_requests,
    }
    form = GuestDetailsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            booking_update_details(booking=booking, by=request.user, **form.cleaned_data)
        except HoldExpired:
            return _expired(request, booking)
        except BookingError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("bookings:review", reference=booking.reference)
    return render(
        request,
        "bookings/details.html",
        {"booking": booking, "form": form, "seconds_left": booking.hold_seconds_left()},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def review(request, reference: str):
    booking, replacement = _hold_step(request, reference)
    if replacement is not None:
        return replacement
    if not booking.details_complete:
        return redirect("bookings:details", reference=booking.reference)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            booking_confirm(booking=booking, policy_accepted=True, by=request.user)
        except HoldExpired:
            return _expired(request, booking)
        except IllegalTransition:
            # A second click on "Confirm": the first one already did it.
            return redirect("bookings:confirmed", reference=booking.reference)
        except BookingError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("bookings:confirmed", reference=booking.reference)
    return render(
        request,
        "bookings/review.html",
        {
            "booking": booking,
            "form": form,
            "policy": policy_summary(booking),
            "seconds_left": booking.hold_seconds_left(),
        },
    )


@never_cache
def confirmed(request, reference: str):
    booking = _claim_if_mine(request, _get_booking(request, reference))
    if booking.status != Booking.Status.CONFIRMED:
        return redirect(booking)
    return render(
        request,
        "bookings/confirmed.html",
        {
            "booking": booking,
            "policy": policy_summary(booking),
            "signed_path": booking_signed_path(booking),
        },
    )


# --- the booking page and cancellation --------------------------------------------


def _booking_page(request, booking: Booking, *, token: str | None):
    return render(
        request,
        "bookings/detail.html",
        {
            "booking": booking,
            "token": token,
            "policy": policy_summary(booking) if booking.cancellation_policy else "",
            "events": booking.events.select_related("by").order_by("at")
            if request.user.is_staff
            else None,
            "can_cancel": booking.status in Booking.CANCELLABLE and not stay_has_ended(booking),
        },
    )


@never_cache
def detail(request, reference: str):
    return _booking_page(request, _get_booking(request, reference), token=None)


@never_cache
def signed(request, token: str):
    reference = reference_from_token(token)
    if reference is None:
        raise Http404(_("No such booking."))
    return _booking_page(request, _get_booking(request, reference, token=token), token=token)


@never_cache
@require_http_methods(["GET", "POST"])
def cancel(request, reference: str):
    token = request.POST.get("token") or request.GET.get("token") or None
    # The page does not list the nights, and a post that succeeds redirects;
    # the service reads what it needs of them itself.
    booking = _get_booking(request, reference, token=token, with_nights=False)
    back = (
        reverse("bookings:signed", kwargs={"token": booking_token(booking.reference)})
        if token
        else booking.get_absolute_url()
    )
    if booking.status not in Booking.CANCELLABLE:
        messages.error(
            request,
            _("Booking %(ref)s is %(status)s and cannot be cancelled online.")
            % {"ref": booking.reference, "status": booking.get_status_display().lower()},
        )
        return HttpResponseRedirect(back)
    if stay_has_ended(booking):
        # The service refuses it too; the page must not offer it, nor show a fee for it.
        messages.error(
            request,
            _("The stay of booking %(ref)s has ended and cannot be cancelled online.")
            % {"ref": booking.reference},
        )
        return HttpResponseRedirect(back)
    fee = cancellation_fee(booking)
    form = CancelForm(request.POST if request.method == "POST" else None, initial={"fee": fee})
    if request.method == "POST" and form.is_valid():
        try:
            booking = booking_cancel(
                booking=booking,
                by=request.user,
                reason=form.cleaned_data["reason"],
                expected_fee=form.cleaned_data["fee"],
            )
        except FeeChanged as exc:
            # Show the page again with the fee that applies now, for the guest to accept.
            fee = exc.fee
            form = CancelForm(initial={"fee": fee, "reason": form.cleaned_data["reason"]})
            messages.warning(request, str(exc))
        except BookingError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(back)
        else:
            messages.success(
                request,
                _("Booking %(ref)s is cancelled.") % {"ref": booking.reference}
                + (
                    " "
                    + _("A cancellation fee of %(fee)s %(cur)s applies.")
                    % {"fee": booking.cancellation_fee, "cur": booking.currency}
                    if booking.cancellation_fee
                    else ""
                ),
            )
            return HttpResponseRedirect(back)
    return render(
        request,
        "bookings/cancel.html",
        {
            "booking": booking,
            "form": form,
            "token": token,
            "fee": fee,
            "free_until": free_until(booking),
            "policy": policy_summary(booking),
            "back": back,
        },
    )


# --- the guest's account -------------------------------------------------------------


@never_cache
@login_required
def my_bookings(request):
    past = request.GET.get("show") == "past"
    page = selectors.guest_bookings_page(
        guest=request.user, past=past, number=request.GET.get("page"), per_page=BOOKINGS_PER_PAGE
    )
    return render(
        request,
        "bookings/my_bookings.html",
        {"page": page, "past": past, "query": "show=past" if past else ""},
    )


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("bookings:mine")
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Your account is ready."))
        next_url = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(next_url)
        return redirect("hotel:home")
    return render(
        request, "accounts/signup.html", {"form": form, "next": request.GET.get("next", "")}
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with a cap on the emails one address or one client can ask for, sent by a worker.

    Every request mails the address typed in, so without a cap anyone could
    flood a guest's inbox from the hotel's domain. Over the cap, nothing is
    sent and the form says so (429).

    Django sends the email in the request, and only to an address with an
    account, so a known address answered later by the mail server's time: the
    same page for both still told them apart. A worker sends it instead, and
    is given every address, known or not.
    """

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        if password_reset_limited(self.request, email=email):
            form.add_error(
                None,
                _(
                    "Too many reset links were asked for this address or from this "
                    "connection. Please check your inbox, or try again in an hour."
                ),
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        queued = publish(
            tasks.send_password_reset_task,
            # While the broker is down, a guest locked out of their account
            # matters more than the timing.
            what="a password reset email",
            otherwise="sending it now",
            email=email,
            domain=self.request.get_host(),
            use_https=self.request.is_secure(),
            subject_template_name=self.subject_template_name,
            email_template_name=self.email_template_name,
            script_prefix=get_script_prefix(),
        )
        if not queued:
            return super().form_valid(form)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, and the new password lifts the account's login lockout.

    The lockout page offers the reset instead of waiting: a guest who proved
    they own the account's email and chose a new password logs in with it at
    once. The failures counted were guesses at the old one.
    """

    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response
