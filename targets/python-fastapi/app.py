"""claimbench target: FastAPI under uvicorn (uvloop, httptools).

Implements targets/CONTRACT.md. Every endpoint is `async def`, so it runs on the
worker's event loop, as in Node: the CPU endpoints block that loop while they
compute (nothing is pushed to FastAPI's threadpool). Env: DOWNSTREAM_URL for
/io/downstream; DOWNSTREAM_CLIENT picks its HTTP client: "aiohttp" (the
default, one aiohttp.ClientSession per worker) or "httpx" (one
httpx.AsyncClient per worker; the `httpx` variant, see targets/README.md and
encode/httpx#3215); host, port and worker count come from the uvicorn command
line.
"""

import asyncio
import functools
import hashlib
import os
import time
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

DOWNSTREAM_URL = os.environ.get("DOWNSTREAM_URL", "").rstrip("/")
DOWNSTREAM_CLIENT = os.environ.get("DOWNSTREAM_CLIENT", "") or "aiohttp"
if DOWNSTREAM_CLIENT not in ("aiohttp", "httpx"):
    raise SystemExit(f"DOWNSTREAM_CLIENT must be aiohttp or httpx, not {DOWNSTREAM_CLIENT!r}")
if DOWNSTREAM_CLIENT == "aiohttp":
    import aiohttp
else:
    import httpx
MAX_BODY = 2 * 1024 * 1024


class Record(BaseModel):
    # strict: "1" is not an int, true is not a number; extra keys are dropped.
    model_config = ConfigDict(strict=True)

    id: int
    name: str
    value: float
    tags: list[str]


class Echo(BaseModel):
    count: int
    sum: float
    items: list[Record]


@asynccontextmanager
async def lifespan(app: FastAPI):
    # One pooled keep-alive client per worker process, shared by all requests:
    # an aiohttp.ClientSession (default) or an httpx.AsyncClient (the `httpx`
    # variant), up to 1000 connections to the downstream, 30 s total timeout.
    if DOWNSTREAM_CLIENT == "aiohttp":
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000),
            timeout=aiohttp.ClientTimeout(total=30.0),
        ) as session:
            app.state.session = session
            yield
        return
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
        timeout=httpx.Timeout(30.0),
    ) as client:
        app.state.client = client
        yield


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, exc: RequestValidationError):
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return PlainTextResponse(f"bad request: {where}: {first.get('msg', 'invalid')}\n", status_code=400)


@app.exception_handler(StarletteHTTPException)
async def http_error(request: Request, exc: StarletteHTTPException):
    return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code)


def body_limit(request: Request) -> None:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise HTTPException(status_code=413, detail="body larger than 2 MB")


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


@app.get("/health", response_class=PlainTextResponse)
async def health():
    return "ok"


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return "Hello, World!"


@app.get("/json")
async def json_hello():
    return {"message": "Hello, World!"}


@app.post("/json/echo", response_model=Echo, dependencies=[Depends(body_limit)])
async def echo(records: list[Record]):
    return Echo(count=len(records), sum=sum(r.value for r in records), items=records)


@app.get("/io/sleep")
async def io_sleep(ms: Annotated[int, Query(ge=0, le=10000)]):
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


async def io_downstream_httpx(request: Request, ms: Annotated[int, Query(ge=0, le=10000)]):
    if not DOWNSTREAM_URL:
        return PlainTextResponse("DOWNSTREAM_URL is not set\n", status_code=503)
    try:
        r = await request.app.state.client.get(f"{DOWNSTREAM_URL}/delay", params={"ms": ms})
        r.raise_for_status()
        downstream = r.json()
    except (httpx.HTTPError, ValueError) as e:
        return PlainTextResponse(f"downstream failed: {e!r}\n", status_code=502)
    return {"ms": ms, "downstream": downstream}


async def io_downstream_aiohttp(request: Request, ms: Annotated[int, Query(ge=0, le=10000)]):
    if not DOWNSTREAM_URL:
        return PlainTextResponse("DOWNSTREAM_URL is not set\n", status_code=503)
    try:
        async with request.app.state.session.get(f"{DOWNSTREAM_URL}/delay", params={"ms": ms}) as r:
            r.raise_for_status()
            # content_type=None: parse whatever the Content-Type, like httpx's r.json().
            downstream = await r.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
        return PlainTextResponse(f"downstream failed: {e!r}\n", status_code=502)
    return {"ms": ms, "downstream": downstream}


app.get("/io/downstream")(io_downstream_aiohttp if DOWNSTREAM_CLIENT == "aiohttp" else io_downstream_httpx)


@app.get("/cpu/fib")
async def cpu_fib(n: Annotated[int, Query(ge=0, le=35)]):
    return {"n": n, "value": fib(n)}


@app.get("/cpu/hash")
async def cpu_hash(rounds: Annotated[int, Query(ge=1, le=1_000_000)]):
    return {"rounds": rounds, "digest": hash_rounds(rounds)}


@app.get("/cpu/sha256")
async def cpu_sha256(kib: Annotated[int, Query(ge=1, le=16384)]):
    return {"kib": kib, "digest": sha256_kib(kib)}


@app.get("/cpu/matmul")
async def cpu_matmul(n: Annotated[int, Query(ge=1, le=512)]):
    return {"n": n, "sum": matmul_sum(n)}


@app.get("/cpu/spin")
async def cpu_spin(ms: Annotated[int, Query(ge=0, le=10000)]):
    return {"ms": ms, "iterations": spin(ms)}


@app.get("/stream")
async def stream(
    chunks: Annotated[int, Query(ge=1, le=10000)],
    interval_ms: Annotated[int, Query(ge=0, le=10000)],
):
    async def events():
        for i in range(chunks):
            if i:
                await asyncio.sleep(interval_ms / 1000)
            yield f"data: {i}\n\n".encode()

    # No Content-Length: uvicorn sends chunked and writes each event as it comes.
    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
