"""Async views, served by uvicorn through Django's ASGI handler."""

import asyncio
import os

import aiohttp
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET, require_POST

from .common import echo, fib, hash_rounds, matmul_sum, query_ints, sha256_kib, spin, text

DOWNSTREAM_URL = os.environ.get("DOWNSTREAM_URL", "").rstrip("/")

# One shared pooled keep-alive aiohttp.ClientSession per worker process, created
# by the first /io/downstream on the worker's running event loop (a session
# belongs to the loop it was made on, and Django's ASGI handler has no lifespan
# events to make it at startup); up to 1000 connections, 30 s total timeout.
_session: aiohttp.ClientSession | None = None


def session() -> aiohttp.ClientSession:
    global _session
    if _session is None or _session.closed:
        _session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000),
            timeout=aiohttp.ClientTimeout(total=30.0),
        )
    return _session


@require_GET
async def health(request):
    return text(200, "ok")


@require_GET
async def plaintext(request):
    return text(200, "Hello, World!")


@require_GET
async def json_hello(request):
    return JsonResponse({"message": "Hello, World!"})


@require_POST
async def json_echo(request):
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
async def io_sleep(request, ms):
    await asyncio.sleep(ms / 1000)
    return JsonResponse({"slept_ms": ms})


@require_GET
@query_ints(ms=(0, 10000))
async def io_downstream(request, ms):
    if not DOWNSTREAM_URL:
        return text(503, "DOWNSTREAM_URL is not set\n")
    try:
        async with session().get(f"{DOWNSTREAM_URL}/delay", params={"ms": ms}) as r:
            r.raise_for_status()
            # content_type=None: parse whatever the Content-Type.
            downstream = await r.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
        return text(502, f"downstream failed: {e!r}\n")
    return JsonResponse({"ms": ms, "downstream": downstream})


# The CPU views run on the event loop (as in Node) and block it while they compute.
@require_GET
@query_ints(n=(0, 35))
async def cpu_fib(request, n):
    return JsonResponse({"n": n, "value": fib(n)})


@require_GET
@query_ints(rounds=(1, 1_000_000))
async def cpu_hash(request, rounds):
    return JsonResponse({"rounds": rounds, "digest": hash_rounds(rounds)})


@require_GET
@query_ints(kib=(1, 16384))
async def cpu_sha256(request, kib):
    return JsonResponse({"kib": kib, "digest": sha256_kib(kib)})


@require_GET
@query_ints(n=(1, 512))
async def cpu_matmul(request, n):
    return JsonResponse({"n": n, "sum": matmul_sum(n)})


@require_GET
@query_ints(ms=(0, 10000))
async def cpu_spin(request, ms):
    return JsonResponse({"ms": ms, "iterations": spin(ms)})


@require_GET
@query_ints(chunks=(1, 10000), interval_ms=(0, 10000))
async def stream(request, chunks, interval_ms):

    async def events():
        for i in range(chunks):
            if i:
                await asyncio.sleep(interval_ms / 1000)
            yield f"data: {i}\n\n".encode()

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response
