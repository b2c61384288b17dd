/**
 * A worker started by hand: a URL without a scheme is refused at once, naming it; FARM_URL names
 * the farm when --orchestrator does not; a farm that never answers is reported with its URL and
 * why, after a few seconds of backing off, instead of being waited on for ever.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../cli/redis-server.ts';
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
