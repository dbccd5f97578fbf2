"""ASGI entry point (uvicorn): the async views."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbsite.settings")
os.environ.setdefault("CLAIMBENCH_DJANGO_VIEWS", "async")

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()

# Load the URLconf (and with it the views) at startup, not on the first request.
# The shared aiohttp.ClientSession is made by the first /io/downstream, on the
# worker's event loop (views_async.session).
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
