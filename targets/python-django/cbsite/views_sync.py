"""Sync views, served by gunicorn (sync or gthread workers)."""

import json
import os
import time

import urllib3
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET, require_POST

from .common import echo, fib, hash_rounds, matmul_sum, query_ints, sha256_kib, spin, text

DOWNSTREAM_URL = os.environ.get("DOWNSTREAM_URL", "").rstrip("/")

# One thread-safe keep-alive pool per worker process (gunicorn imports the app
# after forking). A worker runs at most one request at a time (sync) or one per
# thread (gthread: 4 threads), so maxsize=16 keeps a connection for every
# concurrent request; block=False never waits (a request beyond maxsize opens an
# extra connection, which is closed instead of being pooled).
HTTP = urllib3.PoolManager(
    maxsize=16,
    block=False,
    timeout=urllib3.Timeout(connect=5.0, read=30.0),
    retries=urllib3.Retry(total=1, redirect=0, status=0),
)


@require_GET
def health(request):
    return text(200, "ok")


@require_GET
def plaintext(request):
    return text(200, "Hello, World!")


@require_GET
def json_hello(request):
    return JsonResponse({"message": "Hello, World!"})


@require_POST
def json_echo(request):
    try:
        body = request.body
    except RequestDataTooBig:
        return text(413, "body larger than 2 MB\n")
    try:
        return JsonResponse(echo(body))
    except ValueError as e:
        return text(400, f"{e}\n")


@require_GET
@query_ints(ms=(0, 10000))
def io_sleep(request, ms):
    time.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms})


@require_GET
@query_ints(ms=(0, 10000))
def io_downstream(request, ms):
    if not DOWNSTREAM_URL:
        return text(503, "DOWNSTREAM_URL is not set\n")
    try:
        r = HTTP.request("GET", f"{DOWNSTREAM_URL}/delay", fields={"ms": ms})
        if r.status // 100 != 2:
            raise ValueError(f"downstream answered {r.status}")
        downstream = json.loads(r.data)
    except (urllib3.exceptions.HTTPError, ValueError) as e:
        return text(502, f"downstream failed: {e!r}\n")
    return JsonResponse({"ms": ms, "downstream": downstream})


@require_GET
@query_ints(n=(0, 35))
def cpu_fib(request, n):
    return JsonResponse({"n": n, "value": fib(n)})


@require_GET
@query_ints(rounds=(1, 1_000_000))
def cpu_hash(request, rounds):
    return JsonResponse({"rounds": rounds, "digest": hash_rounds(rounds)})


@require_GET
@query_ints(kib=(1, 16384))
def cpu_sha256(request, kib):
    return JsonResponse({"kib": kib, "digest": sha256_kib(kib)})


@require_GET
@query_ints(n=(1, 512))
def cpu_matmul(request, n):
    return JsonResponse({"n": n, "sum": matmul_sum(n)})


@require_GET
@query_ints(ms=(0, 10000))
def cpu_spin(request, ms):
    return JsonResponse({"ms": ms, "iterations": spin(ms)})


@require_GET
@query_ints(chunks=(1, 10000), interval_ms=(0, 10000))
def stream(request, chunks, interval_ms):

    def events():
        for i in range(chunks):
            if i:
                time.sleep(interval_ms / 1000)
            yield f"data: {i}\n\n".encode()

    # A sync worker is held for the whole stream: expected sync behaviour.
    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response
