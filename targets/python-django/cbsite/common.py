"""Work shared by the sync and the async views (pure functions, no I/O)."""

import functools
import hashlib
import inspect
import json
import re
import time

from django.http import HttpResponse

MAX_BODY = 2 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]+")


class BadParam(Exception):
    pass


def int_param(query, name: str, lo: int, hi: int) -> int:
    """A query parameter that must be plain ASCII decimal digits within lo..hi."""
    raw = query.get(name)
    if raw is not None and _DIGITS.fullmatch(raw):
        v = int(raw)
        if lo <= v <= hi:
            return v
    raise BadParam(f"parameter {name} must be an integer in {lo}..{hi}\n")


def query_ints(**ranges):
    """Decorator: parses the named query parameters (name=(lo, hi), each
    checked by int_param, in order) and passes them to the view as keyword
    arguments; the first bad one is a 400. Works on sync and async views."""

    def parse(request):
        return {name: int_param(request.GET, name, lo, hi) for name, (lo, hi) in ranges.items()}

    def wrap(view):
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_view(request):
                try:
                    params = parse(request)
                except BadParam as e:
                    return text(400, str(e))
                return await view(request, **params)

            return async_view

        @functools.wraps(view)
        def sync_view(request):
            try:
                params = parse(request)
            except BadParam as e:
                return text(400, str(e))
            return view(request, **params)

        return sync_view

    return wrap


def text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _is_record(r) -> bool:
    # type(...) is int also rules out booleans.
    return (
        type(r) is dict
        and type(r.get("id")) is int
        and type(r.get("name")) is str
        and type(r.get("value")) in (int, float)
        and type(r.get("tags")) is list
        and all(type(t) is str for t in r["tags"])
    )


def echo(body: bytes) -> dict:
    """Parse a JSON array of records; raises ValueError if it is not one."""
    records = json.loads(body, parse_constant=_reject_constant)
    if type(records) is not list or not all(_is_record(r) for r in records):
        raise ValueError("body must be a JSON array of records")
    items = [{"id": r["id"], "name": r["name"], "value": r["value"], "tags": r["tags"]} for r in records]
    return {"count": len(items), "sum": sum(r["value"] for r in items), "items": items}


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def hash_rounds(rounds: int) -> str:
    digest = hashlib.sha256(b"claimbench").digest()
    for _ in range(rounds - 1):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


# /cpu/sha256: byte i of the input is i % 251. The input for kib is a prefix of
# the input for any larger kib, so one buffer (as long as the largest input asked
# for so far) is built per process and every request hashes a view of it.
_sha256_input = b""


def sha256_kib(kib: int) -> str:
    global _sha256_input
    size = kib * 1024
    data = _sha256_input
    if len(data) < size:
        data = _sha256_input = (bytes(range(251)) * (size // 251 + 1))[:size]
    return hashlib.sha256(memoryview(data)[:size]).hexdigest()


@functools.lru_cache(maxsize=8)
def _matrices(n: int):
    """A[i][j] = (i + j) % 10 and B[i][j] = (i * j) % 10 as float64 NumPy arrays,
    built with vectorised ops once per n (the last 8 sizes are kept). NumPy is
    imported here, on the first /cpu/matmul of a worker, so the other endpoints
    run without it (its import and its BLAS threads)."""
    import numpy as np

    i = np.arange(n).reshape(n, 1)
    j = np.arange(n).reshape(1, n)
    return ((i + j) % 10).astype(np.float64), ((i * j) % 10).astype(np.float64)


def matmul_sum(n: int) -> int:
    a, b = _matrices(n)
    # Every element and the sum are integers below 2**53: exact in float64.
    return int((a @ b).sum())


def spin(ms: int) -> int:
    """Busy-waits ms milliseconds of wall-clock time on the calling thread,
    reading the monotonic clock; returns how many times it read it."""
    end = time.perf_counter() + ms / 1000
    iterations = 0
    while time.perf_counter() < end:
        iterations += 1
    return iterations
