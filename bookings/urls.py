from django.urls import path

from . import views

app_name = "bookings"

urlpatterns = [
    path("hold/", views.hold, name="hold"),
    path("mine/", views.my_bookings, name="mine"),
    path("link/<str:token>/", views.signed, name="signed"),
    path("<str:reference>/", views.detail, name="detail"),
    path("<str:reference>/details/", views.details, name="details"),
    path("<str:reference>/review/", views.review, name="review"),
    path("<str:reference>/confirmed/", views.confirmed, name="confirmed"),
    path("<str:reference>/cancel/", views.cancel, name="cancel"),
]
