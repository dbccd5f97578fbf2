"""Work shared by the sync and the async views (pure functions, no I/O)."""

import functools
import hashlib
import inspect
import json
import re

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
