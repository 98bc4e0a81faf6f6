from django.http import JsonResponse


def health(request):
    return JsonResponse({"status": "ok"})


def home(request):
    raise NotImplementedError


hotel_list = hotel_detail = home
