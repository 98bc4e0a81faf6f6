import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_asgi_application()

from config.process import tune_garbage_collector  # noqa: E402 - needs the settings

tune_garbage_collector()
