/**
 * Reads a scene file for the CLI: the farm's JSON, or glTF 2.0 (`.glb`, or `.gltf` with its
 * files) converted by shared/gltf-scene.ts, whose warnings (what it does not import) go to stderr;
 * `--sky` lights either with an HDRI.
 * JSON errors and schema errors become one readable message.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { NodeIO } from '@gltf-transform/core';
import { ImportLimitError, type ImportOptions, sceneFromJsonDocument } from '../shared/gltf-scene.ts';
import { parseScene, type Scene } from '../shared/scene.ts';

export interface SceneFileOptions extends ImportOptions {
  /** A Radiance `.hdr` file to light the scene with (its `environment`, keeping any intensity and rotation). */
  sky?: string;
}

export async function readSceneFile(path: string, options: SceneFileOptions = {}): Promise<{ raw: unknown; scene: Scene }> {
  const gltf = /^\.(glb|gltf)$/i.test(extname(path));
  if (options.camera !== undefined && !gltf) throw new Error(`${path}: --camera chooses among a glTF file's cameras`);
  let raw = gltf ? await readGltf(path, options) : await readJson(path);
  if (options.sky !== undefined && raw !== null && typeof raw === 'object') {
    const hdr = (await readFile(options.sky)).toString('base64');
    const current = (raw as { environment?: object }).environment;
    raw = { ...raw, environment: { ...(typeof current === 'object' ? current : {}), hdr } };
  }
  return { raw, scene: parseScene(raw) };
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

async function readGltf(path: string, options: ImportOptions): Promise<unknown> {
  try {
    const json = await new NodeIO().readAsJSON(path);
    const { scene, warnings } = await sceneFromJsonDocument(json, basename(path, extname(path)), options);
    for (const warning of warnings) process.stderr.write(`farm: ${path}: ${warning}\n`);
    return scene;
  } catch (e) {
    if (e instanceof ImportLimitError) throw new Error(`${path}: ${e.message}`);
    throw new Error(`${path}: not a glTF 2.0 file the farm can read: ${(e as Error).message}`);
  }
}

/** `--size 640x480` */
export function parseSize(spec: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(spec);
  if (!m) throw new Error(`bad size "${spec}": expected WIDTHxHEIGHT`);
  return { width: Number(m[1]), height: Number(m[2]) };
}
