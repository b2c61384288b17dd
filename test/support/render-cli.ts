/** Renders a frame with the `farm render` CLI, as a requester would locally, and decodes it. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeRgba } from '../../shared/png.ts';
import { ROOT } from './scenes.ts';

export async function renderWithCli(scene: string, frame: number, size: string, spp: number): Promise<Uint8Array> {
  const out = join(tmpdir(), `farm-cli-${process.pid}-${frame}-${Date.now()}.png`);
  await promisify(execFile)(process.execPath, [
    join(ROOT, 'bin/farm.js'),
    'render',
    scene,
    '--frame',
    String(frame),
    '--size',
    size,
    '--spp',
    String(spp),
    '--backend',
    'webasm',
    '--out',
    out,
  ]);
  return (await decodeRgba(await readFile(out))).rgba;
}
