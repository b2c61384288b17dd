/**
 * A worker started by hand: a URL without a scheme is refused at once, naming it; FARM_URL names
 * the farm when --orchestrator does not; a farm that never answers is reported with its URL and
 * why, after a few seconds of backing off, instead of being waited on for ever. On a terminal (a
 * pseudo-terminal from util-linux's `script`) it shows one status line redrawn in place; with
 * --json, or into a pipe, every line it writes is JSON.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../cli/redis-server.ts';
import { waitFor } from './support/farm.ts';
import { type ApiFarm, OPERATOR_TOKEN, oneTileJob, startApiFarm } from './support/orchestrator.ts';
import { ROOT } from './support/scenes.ts';

/** Runs `farm worker …` to its exit: code, stderr, and how long it took. */
function worker(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const key = join(mkdtempSync(join(tmpdir(), 'farm-worker-cli-')), 'worker.key');
  const child = spawn(process.execPath, [join(ROOT, 'bin/farm.js'), 'worker', '--key', key, '--backend', 'cpu', ...args], {
    env: { ...process.env, FARM_URL: '', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr, ms: Date.now() - started })));
}

describe('farm worker, started by hand', () => {
  it('refuses a URL without a scheme at once, naming it', async () => {
    const { code, stderr, ms } = await worker(['--orchestrator', 'localhost:8080']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('"localhost:8080" is not an orchestrator URL');
    // Node and the TypeScript loader take about a second to start here; the check itself is immediate.
    expect(ms).toBeLessThan(3000);
  });

  it('takes the farm from FARM_URL, and reports one that never answers with its URL and why', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, stderr, ms } = await worker([], { FARM_URL: url });
    expect(code).not.toBe(0);
    expect(stderr).toContain(`no orchestrator answered at ${url}: fetch failed (ECONNREFUSED)`);
    expect(ms).toBeLessThan(10_000);
    expect((await worker([])).stderr).toContain('--orchestrator (or FARM_URL)');
  });
});

/** A worker of the operator's own, on the farm at `url`, run to the end of the test; its output as it comes. */
function running(url: string, options: { terminal: boolean; json?: boolean }) {
  const key = join(mkdtempSync(join(tmpdir(), 'farm-worker-cli-')), 'worker.key');
  const args = [join(ROOT, 'bin/farm.js'), 'worker', '--orchestrator', url, '--key', key, '--backend', 'cpu'];
  args.push('--operator-token', OPERATOR_TOKEN, ...(options.json ? ['--json'] : []));
  // `script` gives the worker a terminal 100 columns wide that does not echo what the test types (^C).
  const command = `stty cols 100 rows 30 -echo; exec ${[process.execPath, ...args].map((a) => `'${a}'`).join(' ')}`;
  const child: ChildProcess = options.terminal
    ? spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, FARM_URL: '' } })
    : spawn(process.execPath, args, { env: { ...process.env, FARM_URL: '' } });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    output: () => output,
    until: (text: string, what: string) => waitFor(async () => output.includes(text), 60_000, what),
    /** Stops it as a person would: Ctrl-C on the terminal, SIGTERM otherwise. */
    async stop(): Promise<number | null> {
      if (options.terminal) child.stdin?.write('\x03');
      else child.kill('SIGTERM');
      return exited;
    },
  };
}

const lines = (output: string) => output.split(/\r?\n/).filter((l) => l.trim() !== '');

// A pseudo-terminal comes from util-linux's `script`; without it these say so, and how to get it.
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;
const terminalTitle = HAS_SCRIPT
  ? 'farm worker, on a terminal and off it'
  : 'farm worker, on a terminal and off it — skipped: no `script`; `apt-get install util-linux`';

describe.skipIf(!HAS_SCRIPT)(terminalTitle, () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm();
  });
  afterAll(() => api?.stop());

  it('shows one status line redrawn in place: device, tile, results today, standing; events above it', async () => {
    const w = running(api.farm.url, { terminal: true });
    await w.until('waiting for work', 'the status line to say the worker waits for work');
    // Four kernel calls' worth of samples on the CPU: the line, redrawn between them, shows the tile in progress.
    expect((await api.operator('/api/jobs', { ...oneTileJob(1), spp: 1024 })).status).toBe(201);
    await w.until('1/1 accepted', 'the status line to count the accepted result');
    await w.until("trusted (the operator's)", "the status line to show the farm's record");
    expect(await w.stop()).toBe(0);
    const out = w.output();
    // Redrawn in place: a carriage return and an erased line before each drawing, never a JSON log
    // line; what ends in a newline is a line printed above it.
    const drawings = out
      .split('\r\x1b[2K')
      .slice(1)
      .filter((d) => !d.includes('\n'));
    expect(drawings.length).toBeGreaterThan(3);
    expect(drawings.some((d) => /^cpu \| frame 0 tile 0,0 16x16 /.test(d))).toBe(true);
    expect(drawings.some((d) => /^cpu \| waiting for work \| (today|since \d\d:\d\d) 1\/1 accepted \| trusted/.test(d))).toBe(true);
    for (const d of drawings) expect(d.length).toBeLessThan(100);
    // Lines a person needs go above it, with the time; the per-tile ones do not.
    expect(out).toMatch(/\d\d:\d\d:\d\d registered \(device: farm-pt\/\d+\+cpu\)\r?\n/);
    expect(out).toContain(`joined ${api.farm.url} as `);
    expect(out).toContain('SIGINT: shutting down');
    expect(out).not.toContain('replica uploaded');
    expect(out).not.toContain('{"level"');
  });

  it('writes only JSON lines with --json on a terminal, and into a pipe', async () => {
    for (const options of [{ terminal: true, json: true }, { terminal: false }]) {
      const w = running(api.farm.url, options);
      // Calibrated: past its start, where Ctrl-C would end it before it could drain.
      await w.until('"classState":"established"', 'the worker to calibrate');
      expect(await w.stop()).toBe(0);
      const written = lines(w.output());
      expect(written.length).toBeGreaterThan(1);
      for (const line of written) expect(() => JSON.parse(line), line).not.toThrow();
      expect(written.map((l) => JSON.parse(l).msg)).toContain(options.terminal ? 'SIGINT: shutting down' : 'SIGTERM: shutting down');
      expect(w.output()).not.toContain('\x1b[2K');
    }
  });
});
