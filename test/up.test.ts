/**
 * `farm up` as a user runs it: a private Redis, two orchestrators on one data directory, two
 * worker processes that know both, the demo rendered and downloaded, and everything stopped.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeRgba } from '../shared/png.ts';
import { renderWithCli } from './support/render-cli.ts';
import { ROOT } from './support/scenes.ts';

/** This process's environment without a Redis or token of its own: `farm up` starts and makes them. */
function withoutFarmSettings(): NodeJS.ProcessEnv {
  const { REDIS_URL: _redis, FARM_TOKEN: _token, ...env } = process.env;
  return env;
}

describe('farm up', () => {
  it('starts a farm of two orchestrators and two workers, renders the demo exactly, and stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'farm-up-'));
    // The Cornell box, small enough to render in seconds.
    const scene = JSON.parse(readFileSync(join(ROOT, 'scenes/cornell.json'), 'utf8'));
    scene.render = { ...scene.render, width: 64, height: 48, spp: 4 };
    const demo = join(dir, 'demo.json');
    writeFileSync(demo, JSON.stringify(scene));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'bin/farm.js'),
        'up',
        '--orchestrators',
        '2',
        '--workers',
        '2',
        '--port',
        '0',
        '--data',
        join(dir, 'farm'),
        '--demo',
        demo,
        '--backend',
        'webasm',
        '--once',
      ],
      { env: withoutFarmSettings(), timeout: 120_000 },
    );
    expect(stdout).toMatch(/^farm up: orchestrators http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+, redis .*, 2 worker\(s\)$/m);
    const frame = /^frames: (\S+\.png)/m.exec(stdout)?.[1] as string;
    expect(existsSync(frame)).toBe(true);
    const local = await renderWithCli(demo, 0, '64x48', 4);
    expect(Buffer.from((await decodeRgba(readFileSync(frame))).rgba).equals(Buffer.from(local))).toBe(true);
  }, 150_000);
});
