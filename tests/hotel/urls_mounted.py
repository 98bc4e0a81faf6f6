"""The project's pages mounted under /stay/, for tests of URLs that follow the URLconf."""

from django.urls import include, path

urlpatterns = [path("stay/", include("config.urls"))]
