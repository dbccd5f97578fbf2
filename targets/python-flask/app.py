"""claimbench target: Flask under gunicorn sync workers. Implements targets/CONTRACT.md.

Env: DOWNSTREAM_URL for /io/downstream; host, port and worker count come from
the gunicorn command line.
"""

import functools
import hashlib
import json
import os
import re
import time

import urllib3
from flask import Flask, Response, jsonify, request

DOWNSTREAM_URL = os.environ.get("DOWNSTREAM_URL", "").rstrip("/")
_DIGITS = re.compile(r"[0-9]+")

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024  # larger bodies: 413

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


class BadParam(Exception):
    pass


def int_param(name: str, lo: int, hi: int) -> int:
    """A query parameter that must be plain ASCII decimal digits within lo..hi."""
    raw = request.args.get(name)
    if raw is not None and _DIGITS.fullmatch(raw):
        v = int(raw)
        if lo <= v <= hi:
            return v
    raise BadParam(f"parameter {name} must be an integer in {lo}..{hi}\n")


def text(status: int, message: str) -> Response:
    return Response(message, status=status, mimetype="text/plain")


@app.errorhandler(BadParam)
def bad_param(e):
    return text(400, str(e))


@app.errorhandler(404)
def not_found(e):
    return text(404, "not found\n")


@app.errorhandler(405)
def method_not_allowed(e):
    return text(405, "method not allowed\n")


@app.errorhandler(413)
def too_large(e):
    return text(413, "body larger than 2 MB\n")


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


@app.get("/health")
def health():
    return text(200, "ok")


@app.get("/plaintext")
def plaintext():
    return text(200, "Hello, World!")


@app.get("/json")
def json_hello():
    return jsonify(message="Hello, World!")


@app.post("/json/echo")
def json_echo():
    try:
        records = json.loads(request.get_data(cache=False), parse_constant=_reject_constant)
    except ValueError:
        return text(400, "body is not JSON\n")
    if type(records) is not list or not all(_is_record(r) for r in records):
        return text(400, "body must be a JSON array of records\n")
    items = [{"id": r["id"], "name": r["name"], "value": r["value"], "tags": r["tags"]} for r in records]
    return jsonify(count=len(items), sum=sum(r["value"] for r in items), items=items)


@app.get("/io/sleep")
def io_sleep():
    ms = int_param("ms", 0, 10000)
    time.sleep(ms / 1000)
    return jsonify(slept_ms=ms)


@app.get("/io/downstream")
def io_downstream():
    ms = int_param("ms", 0, 10000)
    if not DOWNSTREAM_URL:
        return text(503, "DOWNSTREAM_URL is not set\n")
    try:
        r = HTTP.request("GET", f"{DOWNSTREAM_URL}/delay", fields={"ms": ms})
        if r.status // 100 != 2:
            raise ValueError(f"downstream answered {r.status}")
        downstream = json.loads(r.data)
    except (urllib3.exceptions.HTTPError, ValueError) as e:
        return text(502, f"downstream failed: {e!r}\n")
    return jsonify(ms=ms, downstream=downstream)


@app.get("/cpu/fib")
def cpu_fib():
    n = int_param("n", 0, 35)
    return jsonify(n=n, value=fib(n))


@app.get("/cpu/hash")
def cpu_hash():
    rounds = int_param("rounds", 1, 1_000_000)
    return jsonify(rounds=rounds, digest=hash_rounds(rounds))


@app.get("/cpu/sha256")
def cpu_sha256():
    kib = int_param("kib", 1, 16384)
    return jsonify(kib=kib, digest=sha256_kib(kib))


@app.get("/cpu/matmul")
def cpu_matmul():
    n = int_param("n", 1, 512)
    return jsonify(n=n, sum=matmul_sum(n))


@app.get("/cpu/spin")
def cpu_spin():
    ms = int_param("ms", 0, 10000)
    return jsonify(ms=ms, iterations=spin(ms))


@app.get("/stream")
def stream():
    chunks = int_param("chunks", 1, 10000)
    interval_ms = int_param("interval_ms", 0, 10000)

    def events():
        for i in range(chunks):
            if i:
                time.sleep(interval_ms / 1000)
            yield f"data: {i}\n\n".encode()

    # A sync worker is held for the whole stream: expected sync behaviour.
    return Response(events(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})
