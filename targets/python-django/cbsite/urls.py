"""URLconf: the endpoint contract's routes, served by the sync views (plain
`def`, for gunicorn's WSGI workers) or the async views (`async def`, for
uvicorn's ASGI), chosen by CLAIMBENCH_DJANGO_VIEWS, which wsgi.py and asgi.py set."""

import os

from django.urls import path

if os.environ.get("CLAIMBENCH_DJANGO_VIEWS") == "async":
    from . import views_async as v
else:
    from . import views_sync as v

urlpatterns = [
    path("health", v.health),
    path("plaintext", v.plaintext),
    path("json", v.json_hello),
    path("json/echo", v.json_echo),
    path("io/sleep", v.io_sleep),
    path("io/downstream", v.io_downstream),
    path("cpu/fib", v.cpu_fib),
    path("cpu/hash", v.cpu_hash),
    path("cpu/sha256", v.cpu_sha256),
    path("cpu/matmul", v.cpu_matmul),
    path("cpu/spin", v.cpu_spin),
    path("stream", v.stream),
]
