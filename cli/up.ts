/**
 * `farm up`: a whole farm on this machine. Uses REDIS_URL or starts a private redis-server (AOF
 * on) under the data directory, starts the orchestrators (one, or several on consecutive ports
 * sharing the Redis and the data directory) and N worker processes that know them all, renders
 * the demo scene with --wait, prints where the frames are, and keeps the farm running until Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { configFromEnv, OrchestratorConfig } from '../orchestrator/config.ts';
import { startOrchestrator } from '../orchestrator/server.ts';
import { startingWith } from '../worker/client.ts';
import { dashboardLink } from './orchestrator.ts';
import { startRedisServer } from './redis-server.ts';
import { RequesterClient } from './requester.ts';
import { readSceneFile } from './scene-file.ts';
import { onShutdown } from './shutdown.ts';
import { downloadOutputs, waitForJob } from './submit.ts';

export interface UpFlags {
  workers: string;
  orchestrators: string;
  port: string;
  data: string;
  demo: string;
  frames?: string;
  backend: string;
  once?: boolean;
}

const FARM_BIN = new URL('../bin/farm.js', import.meta.url).pathname;

export async function upCommand(flags: UpFlags): Promise<void> {
  const data = resolve(flags.data);
  const redis = process.env.REDIS_URL ? undefined : await startRedisServer({ dir: join(data, 'redis') });
  const redisUrl = process.env.REDIS_URL ?? (redis?.url as string);
  // Without FARM_TOKEN, the token the first orchestrator generated into the data directory (kept
  // across runs), beside any other: a token made up for each run would be FARM_TOKEN to the
  // orchestrators, which revokes every other operator token — a real farm's too, were REDIS_URL its.
  const start = (i: number) =>
    startOrchestrator(
      OrchestratorConfig.parse({
        ...configFromEnv(process.env),
        // Consecutive ports from --port (0: any free one each).
        port: Number(flags.port) === 0 ? 0 : Number(flags.port) + i,
        redisUrl,
        dataDir: join(data, 'orchestrator'),
        logLevel: process.env.LOG_LEVEL ?? 'warn',
      }),
    );
  const farm = await start(0);
  const orchestrators = [farm, ...(await Promise.all(Array.from({ length: Number(flags.orchestrators) - 1 }, (_, i) => start(i + 1))))];
  const token = farm.token;
  const urls = orchestrators.map((o) => o.url);
  const workers: ChildProcess[] = Array.from({ length: Number(flags.workers) }, (_, i) =>
    spawn(
      process.execPath,
      [
        FARM_BIN,
        'worker',
        '--orchestrator',
        startingWith(urls, i).join(','),
        '--name',
        `local-${i + 1}`,
        '--key',
        join(data, `worker-${i + 1}.key`),
        '--backend',
        flags.backend,
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        // The operator's own workers: trusted, so a small local farm needs no extra replicas.
        env: { ...process.env, FARM_OPERATOR_TOKEN: token, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
      },
    ),
  );
  const stopWorker = (w: ChildProcess) =>
    new Promise<void>((done) => {
      if (w.exitCode !== null) return done();
      w.once('exit', () => done());
      w.kill('SIGTERM');
    });
  const stop = async () => {
    await Promise.all(workers.map(stopWorker));
    await Promise.all(orchestrators.map((o) => o.close()));
    await redis?.stop();
  };
  process.stdout.write(
    `farm up: orchestrator${urls.length > 1 ? 's' : ''} ${urls.join(', ')}, redis ${redisUrl}, ${workers.length} worker(s)\nFARM_TOKEN=${token}\ndashboard: ${dashboardLink(farm.url, token)}\n`,
  );

  try {
    const client = new RequesterClient(farm.url, token);
    const { raw } = await readSceneFile(flags.demo);
    const job = await client.submit({ scene: raw, frames: flags.frames, tileSize: 64 });
    process.stdout.write(`demo job ${job.id}: ${flags.demo}, ${job.tilesTotal} tiles\n`);
    const status = await waitForJob(client, job.id);
    const files = await downloadOutputs(client, status, join(data, 'output', job.id));
    process.stdout.write(`frames: ${files.join(', ')}\n`);
  } catch (e) {
    await stop();
    throw e;
  }
  if (flags.once) {
    await stop();
    return;
  }
  process.stdout.write(
    `farm is running; submit more with: FARM_TOKEN=${token} farm submit <scene.json> --orchestrator ${farm.url} --wait\n`,
  );
  onShutdown(stop);
}
