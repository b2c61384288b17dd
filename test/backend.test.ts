/**
 * Without a GPU a person reads one line saying why and what renders instead — not Dawn's raw
 * warnings on every start. `--backend webgpu` without one fails with the reason. (A software
 * adapter, and a GPU, are test/webgpu.test.ts's.)
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

/** A Vulkan loader that finds no driver: where Dawn, once loaded, writes warnings of its own. */
const NO_DRIVER = { VK_DRIVER_FILES: '/nonexistent/icd.json' };

describe('backend choice', () => {
  it('says in one line why there is no GPU and what renders instead', async () => {
    const out = join(tmpdir(), `farm-backend-${process.pid}.png`);
    const { stderr } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin/farm.js'), 'render', join(ROOT, 'scenes/cornell.json'), '--size', '16x12', '--spp', '1', '--out', out],
      { env: { ...process.env, ...NO_DRIVER } },
    );
    const lines = stderr.trim().split('\n');
    const said = lines.filter((l) => l.startsWith('farm: '));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^farm: no GPU: .+; rendering with WebAssembly SIMD on the CPU \(webasm\)$/);
    expect(said[0]).toContain(vulkanLoader ? 'no WebGPU adapter answered' : 'apt-get install libvulkan1');
    expect(lines.filter((l) => !l.startsWith('farm: ') && !l.startsWith('wrote '))).toEqual([]);
  });

  it('refuses --backend webgpu without an adapter, with the reason', async () => {
    const before = process.env.VK_DRIVER_FILES;
    Object.assign(process.env, NO_DRIVER);
    try {
      await expect(openBackend('webgpu')).rejects.toThrow(BackendUnavailableError);
    } finally {
      if (before === undefined) delete process.env.VK_DRIVER_FILES;
      else process.env.VK_DRIVER_FILES = before;
    }
  });
});
