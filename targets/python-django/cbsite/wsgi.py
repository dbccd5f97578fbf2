"""WSGI entry point (gunicorn): the sync views."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbsite.settings")
os.environ.setdefault("CLAIMBENCH_DJANGO_VIEWS", "sync")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
