import { createHash } from 'node:crypto';
import {
  ArgumentsHost,
  BadGatewayException,
  BadRequestException,
  Body,
  Catch,
  Controller,
  ExceptionFilter,
  Get,
  Header,
  HttpCode,
  HttpException,
  Post,
  Query,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Response } from 'express';
import { Pool } from 'undici';

const DOWNSTREAM_URL = (process.env.DOWNSTREAM_URL || '').replace(/\/+$/, '');
const DOWNSTREAM_TIMEOUT_MS = 30000;

/** Where /io/downstream sends its requests (null: DOWNSTREAM_URL unset). */
interface Downstream {
  pool: Pool;
  /** Path prefix from the URL, without a trailing slash. */
  prefix: string;
}

/**
 * One undici Pool per process (each cluster worker has its own): keep-alive
 * connections to the downstream origin, up to 1024 of them, one request at a
 * time on each (no pipelining); 30 s header and body timeouts. pool.request is
 * undici's fast path, without the WHATWG fetch layer. A bad URL is an error at
 * startup (main.ts loads this module before it listens).
 */
function makeDownstream(raw: string): Downstream | null {
  if (!raw) return null;
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`DOWNSTREAM_URL ${JSON.stringify(raw)} is not an http(s) URL`);
  }
  const pool = new Pool(url.origin, {
    connections: 1024,
    pipelining: 1,
    headersTimeout: DOWNSTREAM_TIMEOUT_MS,
    bodyTimeout: DOWNSTREAM_TIMEOUT_MS,
  });
  return { pool, prefix: url.pathname.replace(/\/+$/, '') };
}

const DOWNSTREAM = makeDownstream(DOWNSTREAM_URL);

interface Record {
  id: number;
  name: string;
  value: number;
  tags: string[];
}

/** A parameter that must be plain ASCII decimal digits within lo..hi. */
function intParam(raw: unknown, name: string, lo: number, hi: number): number {
  if (typeof raw === 'string' && /^[0-9]+$/.test(raw)) {
    const v = Number(raw);
    if (v >= lo && v <= hi) return v;
  }
  throw new BadRequestException(`parameter ${name} must be an integer in ${lo}..${hi}`);
}

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function hashRounds(rounds: number): string {
  let digest = createHash('sha256').update('claimbench').digest();
  for (let i = 1; i < rounds; i++) {
    digest = createHash('sha256').update(digest).digest();
  }
  return digest.toString('hex');
}

// /cpu/sha256: byte i of the input is i % 251. The input for kib is a prefix of
// the input for any larger kib, so one buffer (as long as the largest input
// asked for so far) is built per process and every request hashes a view of it.
const SHA256_PATTERN = Buffer.from(Array.from({ length: 251 }, (_, i) => i));
let sha256Input = Buffer.alloc(0);

function sha256Kib(kib: number): string {
  const len = kib * 1024;
  if (sha256Input.length < len) sha256Input = Buffer.alloc(len, SHA256_PATTERN);
  return createHash('sha256').update(sha256Input.subarray(0, len)).digest('hex');
}

// /cpu/matmul: A[i][j] = (i + j) % 10 and B[i][j] = (i * j) % 10, row-major
// Float64Arrays, built once per n (the last 8 sizes are kept).
const MATRICES_KEPT = 8;
const matrices = new Map<number, { a: Float64Array; b: Float64Array }>();

function matrixPair(n: number): { a: Float64Array; b: Float64Array } {
  let m = matrices.get(n);
  if (m === undefined) {
    const a = new Float64Array(n * n);
    const b = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        a[i * n + j] = (i + j) % 10;
        b[i * n + j] = (i * j) % 10;
      }
    }
    if (matrices.size >= MATRICES_KEPT) matrices.delete(matrices.keys().next().value as number);
    m = { a, b };
    matrices.set(n, m);
  }
  return m;
}

/** C = A x B with the usual i-k-j loop in plain JavaScript; the sum of C. */
function matmulSum(n: number): number {
  const { a, b } = matrixPair(n);
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[row + k];
      const bk = k * n;
      for (let j = 0; j < n; j++) c[row + j] += aik * b[bk + j];
    }
  }
  let sum = 0;
  for (let x = 0; x < c.length; x++) sum += c[x];
  return sum;
}

/**
 * /cpu/spin: busy-waits ms milliseconds of wall-clock time on the event loop,
 * reading the monotonic clock; returns how many times it read it.
 */
function spin(ms: number): number {
  const end = process.hrtime.bigint() + BigInt(ms) * 1000000n;
  let iterations = 0;
  while (process.hrtime.bigint() < end) iterations += 1;
  return iterations;
}

function isRecord(r: unknown): r is Record {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return false;
  const o = r as { [k: string]: unknown };
  return (
    Number.isInteger(o.id) &&
    typeof o.name === 'string' &&
    typeof o.value === 'number' &&
    Array.isArray(o.tags) &&
    o.tags.every((t) => typeof t === 'string')
  );
}

@Controller()
export class AppController {
  @Get('health')
  @Header('Content-Type', 'text/plain')
  health(): string {
    return 'ok';
  }

  @Get('plaintext')
  @Header('Content-Type', 'text/plain')
  plaintext(): string {
    return 'Hello, World!';
  }

  @Get('json')
  json(): object {
    return { message: 'Hello, World!' };
  }

  @Post('json/echo')
  @HttpCode(200)
  echo(@Body() body: unknown): object {
    if (!Array.isArray(body) || !body.every(isRecord)) {
      throw new BadRequestException('body must be a JSON array of records');
    }
    let sum = 0;
    const items = new Array<Record>(body.length);
    for (let i = 0; i < body.length; i++) {
      const r = body[i] as Record;
      sum += r.value;
      items[i] = { id: r.id, name: r.name, value: r.value, tags: r.tags };
    }
    return { count: body.length, sum, items };
  }

  @Get('io/sleep')
  async sleep(@Query('ms') rawMs: unknown): Promise<object> {
    const ms = intParam(rawMs, 'ms', 0, 10000);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { slept_ms: ms };
  }

  @Get('io/downstream')
  async downstream(@Query('ms') rawMs: unknown): Promise<object> {
    const ms = intParam(rawMs, 'ms', 0, 10000);
    if (DOWNSTREAM === null) throw new ServiceUnavailableException('DOWNSTREAM_URL is not set');
    let downstream: unknown;
    try {
      const { statusCode, body } = await DOWNSTREAM.pool.request({
        method: 'GET',
        path: `${DOWNSTREAM.prefix}/delay?ms=${ms}`,
      });
      if (statusCode < 200 || statusCode > 299) {
        await body.dump();
        throw new Error(`downstream answered ${statusCode}`);
      }
      downstream = await body.json();
    } catch (e) {
      throw new BadGatewayException(`downstream failed: ${(e as Error).message}`);
    }
    return { ms, downstream };
  }

  @Get('cpu/fib')
  fib(@Query('n') rawN: unknown): object {
    const n = intParam(rawN, 'n', 0, 35);
    return { n, value: fib(n) };
  }

  @Get('cpu/hash')
  hash(@Query('rounds') rawRounds: unknown): object {
    const rounds = intParam(rawRounds, 'rounds', 1, 1000000);
    return { rounds, digest: hashRounds(rounds) };
  }

  @Get('cpu/sha256')
  sha256(@Query('kib') rawKib: unknown): object {
    const kib = intParam(rawKib, 'kib', 1, 16384);
    return { kib, digest: sha256Kib(kib) };
  }

  @Get('cpu/matmul')
  matmul(@Query('n') rawN: unknown): object {
    const n = intParam(rawN, 'n', 1, 512);
    return { n, sum: matmulSum(n) };
  }

  @Get('cpu/spin')
  spin(@Query('ms') rawMs: unknown): object {
    const ms = intParam(rawMs, 'ms', 0, 10000);
    return { ms, iterations: spin(ms) };
  }

  // Written by hand rather than with @Sse(): Nest's SSE adds `id:` lines and a
  // leading blank line, and the contract fixes the exact event bytes.
  @Get('stream')
  stream(
    @Query('chunks') rawChunks: unknown,
    @Query('interval_ms') rawInterval: unknown,
    @Res() res: Response,
  ): void {
    const chunks = intParam(rawChunks, 'chunks', 1, 10000);
    const interval = intParam(rawInterval, 'interval_ms', 0, 10000);
    // No Content-Length: Node sends HTTP/1.1 chunked; each write is flushed.
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      res.write(`data: ${i}\n\n`);
      i += 1;
      if (i >= chunks) res.end();
      else timer = setTimeout(send, interval);
    };
    res.on('close', () => clearTimeout(timer));
    send();
  }
}

/** Every error (400, 404, 413, 502, 503, ...) as a short text/plain message. */
@Catch()
export class TextExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    let status = 500;
    let message = 'internal error';
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const body = exception.getResponse();
      const m = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      message = Array.isArray(m) ? m.join('; ') : String(m ?? exception.message);
    } else {
      const e = exception as { status?: number; type?: string };
      if (e?.type === 'entity.too.large') {
        status = 413;
        message = 'body larger than 2 MB';
      } else if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
        status = 400;
        message = 'bad request';
      } else {
        console.error('node-nestjs:', exception);
      }
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).type('text/plain').send(`${message}\n`);
  }
}
