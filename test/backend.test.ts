/**
 * Without a GPU a person reads one line saying why and what renders instead — not Dawn's raw
 * warnings on every start; with one, nothing is said. `--backend webgpu` without one fails with
 * the reason.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, openBackend } from '../worker/render/backend.ts';
import { ROOT } from './support/scenes.ts';

const vulkanLoader = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) =>
  existsSync(join(d, 'libvulkan.so.1')),
);

describe('backend choice', () => {
  it('says in one line why there is no GPU and what renders instead', async () => {
    const backend = await openBackend('auto');
    backend.close();
    if (backend.name === 'webgpu') {
      expect(backend.fallback).toBeUndefined();
      return;
    }
    expect(backend.fallback).toMatch(/^no GPU: .+; rendering with WebAssembly SIMD on the CPU \(webasm\)$/);
    if (!vulkanLoader) expect(backend.fallback).toContain('apt-get install libvulkan1');
    await expect(openBackend('webgpu')).rejects.toThrow(BackendUnavailableError);

    const out = join(tmpdir(), `farm-backend-${process.pid}.png`);
    const { stderr } = await promisify(execFile)(process.execPath, [
      join(ROOT, 'bin/farm.js'),
      'render',
      join(ROOT, 'scenes/cornell.json'),
      '--size',
      '16x12',
      '--spp',
      '1',
      '--out',
      out,
    ]);
    const lines = stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('farm: '))).toEqual([`farm: ${backend.fallback}`]);
    expect(lines.filter((l) => !l.startsWith('farm: ') && !l.startsWith('wrote '))).toEqual([]);
  });
});
