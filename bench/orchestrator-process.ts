/** An orchestrator process for the benchmarks, on their Redis, with settings that measure only the farm's own path. */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../cli/redis-server.ts';

export const BENCH_TOKEN = 'bench-token-123';
const FARM_BIN = new URL('../bin/farm.js', import.meta.url).pathname;

export interface OrchestratorProcess {
  url: string;
  proc: ChildProcess;
  /** Lines it logged at error level so far. */
  errors(): number;
}

export async function startOrchestratorProcess(
  redisUrl: string,
  dataDir: string,
  contentStore: 'fs' | 'ipfs',
  env: Record<string, string> = {},
): Promise<OrchestratorProcess> {
  const port = await freePort();
  // ORCH_PROF=dir: each orchestrator writes a V8 CPU profile there when it stops.
  const profile = process.env.ORCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ORCH_PROF}`] : [];
  const proc = spawn(
    process.execPath,
    [...profile, FARM_BIN, 'orchestrator', '--port', String(port), '--redis', redisUrl, '--data', dataDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        FARM_TOKEN: BENCH_TOKEN,
        FARM_CONTENT_STORE: contentStore,
        // The no-op workers are the operator's own (no stake, no spot checks) and talk fast.
        FARM_SPOT_CHECK_RATE: '0',
        FARM_WORKER_REQUESTS_PER_SECOND: '1000000',
        FARM_WORKER_REQUESTS_PER_ADDRESS_PER_SECOND: '1000000',
        FARM_WORKER_BODIES_PER_ADDRESS: '1000000',
        FARM_REGISTRATIONS_PER_MINUTE: '1000000',
        FARM_SUBMISSIONS_PER_MINUTE: '1000000',
        // Every simulated worker calls from 127.0.0.1: one address's limits would be all of theirs.
        FARM_FAILED_AUTH_PER_MINUTE: '1000000',
        FARM_CALIBRATIONS_PER_ADDRESS_PER_HOUR: '1000000',
        FARM_POLL_MS: '2000',
        LOG_LEVEL: 'error',
        ...env,
      },
    },
  );
  let errors = 0;
  // It logs at error level only: every line is an error; the first few are shown.
  proc.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) if (++errors <= 3) process.stderr.write(`${line}\n`);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, proc, errors: () => errors };
    if (proc.exitCode !== null || i > 600) throw new Error(`orchestrator on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const stopProcess = (proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> =>
  new Promise<void>((done) => {
    if (proc.exitCode !== null) return done();
    proc.once('exit', () => done());
    proc.kill(signal);
  });
