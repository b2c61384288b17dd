/**
 * A real farm for integration tests: a private redis-server (AOF, fsync always), the orchestrator
 * and workers as child processes of `bin/farm.js`, and test workers (rogue, slow) that speak the
 * same signed protocol. Short leases keep crash tests quick. Honest workers are the operator's own
 * (trusted) unless a test says otherwise; untrusted ones get credits and stake them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type PrivateRedis, startRedisServer } from '../../cli/redis-server.ts';
import { RequesterClient } from '../../cli/requester.ts';
import { canonicalCid, type TileResult } from '../../shared/image.ts';
import { GAVE_UP, type JobStatus, type TaskView, type WorkerView } from '../../shared/protocol.ts';
import { parseScene } from '../../shared/scene.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../../shared/signing.ts';
import { WorkerClient } from '../../worker/client.ts';
import { Renderer } from '../../worker/render/renderer.ts';
import { ROOT } from './scenes.ts';

const BIN = join(ROOT, 'bin/farm.js');
export const TOKEN = 'farm_test_operator_token';

export interface FarmOptions {
  leaseMs?: number;
  taskTimeoutMs?: number;
  /** 0 keeps replica counts deterministic; the honesty tests use the default 5 %. */
  spotCheckRate?: number;
  /** The small-farm grace (ms). */
  graceMs?: number;
  /** More orchestrator settings, as FARM_* environment variables. */
  env?: Record<string, string>;
  /** `ipfs`: each orchestrator keeps its own data directory and an embedded IPFS node (default `fs`: one shared directory). */
  contentStore?: 'fs' | 'ipfs';
}

export interface StartWorkerOptions {
  /** The operator's own worker (default for honest ones). */
  trusted?: boolean;
  /** Credits an untrusted worker gets and stakes (default 1000: 100 replicas held or awaiting verdicts). */
  stake?: number;
  /** Its ask on the market, in credits per RU (`farm worker --ask`). */
  ask?: number;
  /** The orchestrators it fails over between (default: the farm's own). */
  orchestrators?: string[];
  /** Replicas it takes at once (`farm worker --capacity`). */
  capacity?: number;
  env?: Record<string, string>;
}

/** What the farm's webasm workers say they run on. */
const WEBASM_DEVICE = 'farm-pt/1+webasm';

export interface WorkerHandle {
  id: string;
  name: string;
  proc: ChildProcess;
}

export type WorkerKind = 'honest' | 'rogue' | 'slow' | 'turncoat' | 'fragile';

export class TestFarm {
  readonly client: RequesterClient;
  readonly workers = new Map<string, WorkerHandle>();
  private orchestrator?: ChildProcess;
  private readonly peers: ChildProcess[] = [];

  private constructor(
    readonly dir: string,
    readonly port: number,
    public redis: PrivateRedis,
    private readonly opts: Required<FarmOptions>,
  ) {
    this.client = new RequesterClient(this.url, TOKEN);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(opts: FarmOptions = {}): Promise<TestFarm> {
    const dir = mkdtempSync(join(tmpdir(), 'farm-test-'));
    const redis = await startRedisServer({ dir: join(dir, 'redis'), appendfsync: 'always' });
    const farm = new TestFarm(dir, await freePort(), redis, {
      leaseMs: opts.leaseMs ?? 1500,
      taskTimeoutMs: opts.taskTimeoutMs ?? 60_000,
      spotCheckRate: opts.spotCheckRate ?? 0,
      graceMs: opts.graceMs ?? 30_000,
      env: opts.env ?? {},
      contentStore: opts.contentStore ?? 'fs',
    });
    await farm.startOrchestrator();
    return farm;
  }

  /** Starts (or restarts) the orchestrator; `env` replaces the farm's extra settings from now on. */
  async startOrchestrator(env?: Record<string, string>): Promise<void> {
    if (env) this.opts.env = env;
    this.orchestrator = await this.spawnOrchestrator(this.port, 'orchestrator.log');
  }

  /**
   * Another orchestrator process of the same farm: the same Redis, its own port, and the same
   * data directory (or, with the IPFS store, its own). Stopped with the farm.
   */
  async startPeer(): Promise<{ url: string; kill(): Promise<void> }> {
    const port = await freePort();
    const proc = await this.spawnOrchestrator(port, `orchestrator-${port}.log`);
    this.peers.push(proc);
    return { url: `http://127.0.0.1:${port}`, kill: () => kill(proc, 'SIGKILL') };
  }

  /** The data directory of the orchestrator on `port`: the farm's one, or its own with the IPFS store. */
  dataDir(port = this.port): string {
    return join(this.dir, this.opts.contentStore === 'ipfs' ? `data-${port}` : 'data');
  }

  private async spawnOrchestrator(port: number, logFile: string): Promise<ChildProcess> {
    const proc = spawn(
      process.execPath,
      [BIN, 'orchestrator', '--port', String(port), '--redis', this.redis.url, '--data', this.dataDir(port)],
      {
        stdio: ['ignore', openSync(join(this.dir, logFile), 'a'), 'inherit'],
        env: {
          ...process.env,
          FARM_TOKEN: TOKEN,
          FARM_LEASE_MS: String(this.opts.leaseMs),
          FARM_TASK_TIMEOUT_MS: String(this.opts.taskTimeoutMs),
          FARM_POLL_MS: '1000',
          FARM_SPOT_CHECK_RATE: String(this.opts.spotCheckRate),
          FARM_GRACE_MS: String(this.opts.graceMs),
          FARM_REGISTRATIONS_PER_MINUTE: '10000',
          FARM_WORKER_REQUESTS_PER_SECOND: '10000',
          FARM_WORKER_REQUESTS_PER_ADDRESS_PER_SECOND: '100000',
          FARM_WORKER_BODIES_PER_ADDRESS: '10000',
          FARM_SUBMISSIONS_PER_MINUTE: '10000',
          FARM_FAILED_AUTH_PER_MINUTE: '10000',
          LOG_LEVEL: process.env.FARM_TEST_LOG || 'error',
          FARM_CONTENT_STORE: this.opts.contentStore,
          ...this.opts.env,
        },
      },
    );
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true,
      20_000,
      'orchestrator to answer /healthz',
    );
    return proc;
  }

  /** Whether the orchestrator process has ended (a crash point killed it). */
  get orchestratorDied(): boolean {
    return this.orchestrator?.exitCode !== null || this.orchestrator?.signalCode !== null;
  }

  /** Resolves once the orchestrator process has ended. */
  async orchestratorExited(timeoutMs: number): Promise<void> {
    await waitFor(async () => this.orchestratorDied, timeoutMs, 'the orchestrator to exit');
  }

  /** kill -9 the orchestrator, as a crash would. */
  async killOrchestrator(): Promise<void> {
    await kill(this.orchestrator, 'SIGKILL');
  }

  async restartRedis(): Promise<void> {
    await this.redis.kill();
    this.redis = await startRedisServer({ dir: join(this.dir, 'redis'), port: this.redis.port, appendfsync: 'always' });
  }

  async startWorker(name: string, kind: WorkerKind = 'honest', opts: StartWorkerOptions = {}): Promise<WorkerHandle> {
    const trusted = opts.trusted ?? (kind === 'honest' || kind === 'slow' || kind === 'fragile');
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    const keyFile = join(this.dir, `${name}.key`);
    writeFileSync(keyFile, privateKeyPem, { mode: 0o600 });
    const id = workerIdOf(publicKeyDer);
    const stake = trusted ? 0 : (opts.stake ?? 1000);
    if (stake > 0) {
      // Register the key first so that it can be granted the credits it stakes on start.
      const client = new WorkerClient(this.url, { id, key: loadPrivateKey(privateKeyPem).key, publicKeyDer });
      await client.register(name, WEBASM_DEVICE);
      await this.client.call('POST', '/api/credits', { account: id, amount: stake });
    }
    const farmArgs = [
      'worker',
      '--orchestrator',
      (opts.orchestrators ?? [this.url]).join(','),
      '--name',
      name,
      '--key',
      keyFile,
      '--backend',
      'webasm',
    ];
    if (stake > 0) farmArgs.push('--stake', String(stake));
    if (opts.ask !== undefined) farmArgs.push('--ask', String(opts.ask));
    if (opts.capacity !== undefined) farmArgs.push('--capacity', String(opts.capacity));
    const args =
      kind === 'honest'
        ? [BIN, ...farmArgs]
        : ['--import', 'tsx', join(ROOT, 'test/support/test-worker.ts'), this.url, name, keyFile, kind];
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', openSync(join(this.dir, `${name}.log`), 'a'), 'inherit'],
      env: {
        ...process.env,
        LOG_LEVEL: process.env.FARM_TEST_LOG || 'error',
        ...(trusted ? { FARM_OPERATOR_TOKEN: TOKEN } : {}),
        FARM_TEST_STAKE: String(stake),
        ...(opts.ask === undefined ? {} : { FARM_TEST_ASK: String(opts.ask) }),
        ...opts.env,
      },
    });
    const handle = { id, name, proc };
    this.workers.set(name, handle);
    await waitFor(async () => (await this.worker(id))?.classState === 'established', 30_000, `worker ${name} to calibrate`);
    return handle;
  }

  /**
   * Establishes the webasm class without a worker process: renders the calibration tiles here
   * and answers them as a trusted client (the operator's calibration of its own machine). Returns
   * once that client no longer counts as an online trusted worker (it never takes work, and tiles
   * would wait for it).
   */
  async establishClass(): Promise<void> {
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    const id = workerIdOf(publicKeyDer);
    const client = new WorkerClient(this.url, { id, key: loadPrivateKey(privateKeyPem).key, publicKeyDer });
    const registered = await client.register('calibrator', WEBASM_DEVICE, TOKEN);
    const spec = registered.calibration;
    if (!spec) return;
    const scene = parseScene(await client.scene(spec.scene));
    const renderer = await Renderer.open('webasm');
    try {
      const tiles: TileResult[] = [];
      for (const tile of spec.tiles) tiles.push(await renderer.render(scene, spec.frame, { tile }));
      await client.calibrate(await Promise.all(tiles.map(canonicalCid)), tiles);
    } finally {
      renderer.close();
    }
    await waitFor(async () => (await this.worker(id))?.online === false, 30_000, 'the calibrating client to go offline');
  }

  async killWorker(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await kill(this.workers.get(name)?.proc, signal);
  }

  async worker(id: string): Promise<WorkerView | undefined> {
    const res = await fetch(`${this.url}/api/workers/${id}`).catch(() => undefined);
    return res?.ok ? ((await res.json()) as WorkerView) : undefined;
  }

  async tasks(job: string, frame: number): Promise<TaskView[]> {
    return ((await (await this.client.call('GET', `/api/jobs/${job}/tasks?frame=${frame}`)).json()) as { tasks: TaskView[] }).tasks;
  }

  async waitForJob(id: string, timeoutMs = 90_000): Promise<JobStatus> {
    let status: JobStatus | undefined;
    await waitFor(
      async () => {
        status = await this.client.status(id).catch(() => undefined);
        if (status?.state === 'failed' || status?.state === 'cancelled') throw new Error(`job ${id} ${status.state}`);
        return status?.state === 'done';
      },
      timeoutMs,
      `job ${id} to finish`,
    );
    return status as JobStatus;
  }

  /** Logs stay in the farm's directory; printed so a failing test can be inspected. */
  async stop(): Promise<void> {
    if (process.env.FARM_TEST_LOG) process.stderr.write(`farm logs: ${this.dir}\n`);
    await Promise.all([...this.workers.values()].map((w) => kill(w.proc, 'SIGKILL')));
    await Promise.all([this.orchestrator, ...this.peers].map((p) => kill(p, 'SIGKILL')));
    await this.redis.kill();
  }

  writeScene(name: string, scene: unknown): string {
    const file = join(this.dir, name);
    writeFileSync(file, JSON.stringify(scene));
    return file;
  }
}

/** Each worker holds or answered at most one replica of the task (timed-out attempts aside). */
export function distinctVoters(task: TaskView): boolean {
  const voters = task.replicas.filter((r) => !GAVE_UP.has(r.state)).map((r) => r.worker);
  return new Set(voters).size === voters.length;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function kill(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}
