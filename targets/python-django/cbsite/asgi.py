"""ASGI entry point (uvicorn): the async views."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbsite.settings")
os.environ.setdefault("CLAIMBENCH_DJANGO_VIEWS", "async")

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()

# Load the URLconf (and with it the shared httpx.AsyncClient) at startup, not on
# the first request.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
