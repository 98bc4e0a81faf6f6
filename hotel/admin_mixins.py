"""What every admin of the project shares."""

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _


class CheckedSelectionMixin:
    """An action posted with a selection that is not of primary keys changes nothing, no 500.

    Django filters the queryset by the posted ids as they are, and an id that
    is not one (a tampered form) raised a ValueError there. Every admin has
    the delete action, so every admin needs this.
    """

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                pk.to_python(value)
        except ValidationError:
            self.message_user(
                request,
                _("Select the %(items)s from the list; nothing was changed.")
                % {"items": self.model._meta.verbose_name_plural},
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)
