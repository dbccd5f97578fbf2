"""URLconf for the async views (chosen in settings.py by CLAIMBENCH_DJANGO_VIEWS)."""

from django.urls import path

from . import views_async as v

urlpatterns = [
    path("health", v.health),
    path("plaintext", v.plaintext),
    path("json", v.json_hello),
    path("json/echo", v.json_echo),
    path("io/sleep", v.io_sleep),
    path("io/downstream", v.io_downstream),
    path("cpu/fib", v.cpu_fib),
    path("cpu/hash", v.cpu_hash),
    path("stream", v.stream),
]
