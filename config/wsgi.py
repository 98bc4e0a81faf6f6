import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()

from config.process import tune_garbage_collector  # noqa: E402 - needs the settings

tune_garbage_collector()
