"""A site that mounts the booking pages somewhere else than config.urls does."""

from django.urls import include, path

urlpatterns = [path("stays/", include("bookings.urls"))]
