/** Reads a scene file for the CLI: JSON errors and schema errors become one readable message. */
import { readFile } from 'node:fs/promises';
import { parseScene, type Scene } from '../shared/scene.ts';

export async function readSceneFile(path: string): Promise<{ raw: unknown; scene: Scene }> {
  const text = await readFile(path, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  return { raw, scene: parseScene(raw) };
}

/** `--size 640x480` */
export function parseSize(spec: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(spec);
  if (!m) throw new Error(`bad size "${spec}": expected WIDTHxHEIGHT`);
  return { width: Number(m[1]), height: Number(m[2]) };
}
