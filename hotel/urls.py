from django.urls import path

from inventory.views import room_type_detail

from . import views

app_name = "hotel"

urlpatterns = [
    path("", views.home, name="home"),
    path("hotels/", views.hotel_list, name="list"),
    path("hotels/<slug:slug>/", views.hotel_detail, name="detail"),
    path("hotels/<slug:slug>/rooms/<slug:room_type_slug>/", room_type_detail, name="room_type"),
]
