/**
 * Starts a private redis-server (AOF on, noeviction) for `farm up` and for tests that must
 * restart Redis. Its data lives in `dir`, so a restart on the same port replays the AOF.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface PrivateRedis {
  url: string;
  port: number;
  /** Graceful shutdown (flushes the AOF). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

export const INSTALL_REDIS_HINT =
  'redis-server was not found on PATH. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or point REDIS_URL at a Redis 6.2+.';

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisOptions {
  dir: string;
  port?: number;
  /** 'always' makes a verified tile durable even across a SIGKILL of Redis. */
  appendfsync?: 'always' | 'everysec';
}

export async function startRedisServer(opts: RedisOptions): Promise<PrivateRedis> {
  if (!hasRedisServer()) throw new Error(INSTALL_REDIS_HINT);
  mkdirSync(opts.dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    opts.dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    opts.appendfsync ?? 'everysec',
  ];
  args.push('--save', '', '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', 'redis.log');
  const child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  await waitForPing(url);
  return {
    url,
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function waitForPing(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      // While loading the AOF, Redis answers LOADING; wait until it serves commands.
      await probe.ping();
      probe.disconnect();
      return;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on ${url} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
