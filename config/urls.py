from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from hotel.views import health

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("bookings.account_urls")),
    path("bookings/", include("bookings.urls")),
    path("search/", include("inventory.urls")),
    path("", include("hotel.urls")),
]

if settings.DEBUG and "debug_toolbar" in settings.INSTALLED_APPS:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
