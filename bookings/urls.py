app_name = "bookings"

urlpatterns: list = []
