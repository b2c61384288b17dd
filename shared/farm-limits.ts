/**
 * A farm's own scene limits. The scene format's caps (`LIMITS`) are the protocol's: every worker
 * renders any scene within them. An operator may lower some for one farm (FARM_MAX_TRIANGLES …,
 * orchestrator/config.ts) to keep its jobs small; the orchestrator checks them when a job is
 * estimated or submitted and when a glTF file is imported, and publishes them (GET /api/limits)
 * so `farm submit` and the dashboard refuse an over-limit scene before uploading it. Every
 * refusal names the field, the limit and the setting.
 */
import { z } from 'zod';
import type { FieldIssue } from './problem.ts';
import { frameCount, LIMITS, type Scene, triangleCount } from './scene.ts';

const upTo = (cap: number) => z.number().int().min(1).max(cap);
export const FarmLimits = z.object({
  /** Triangles a scene draws, each instance counting its mesh's again. */
  maxTriangles: upTo(LIMITS.maxTriangles),
  /** Side of the largest texture, in texels. */
  maxTextureSize: upTo(LIMITS.maxTextureSize),
  /** Texels of all textures together. */
  maxTexels: upTo(LIMITS.maxTexels),
  /** Frames one job renders. */
  maxFrames: upTo(LIMITS.maxFrames),
  /** Pixels of a frame (width × height). */
  maxPixels: upTo(LIMITS.maxPixels),
  maxSpp: upTo(LIMITS.maxSpp),
  /** Bytes of one scene's assets together, and of any one asset. */
  maxAssetBytes: upTo(LIMITS.maxAssetBytes),
});
export type FarmLimits = z.infer<typeof FarmLimits>;

/**
 * The environment variable that sets an orchestrator setting: `maxTriangles` → `FARM_MAX_TRIANGLES`;
 * MiB is one word (`assetMiBPerMinute` → `FARM_ASSET_MIB_PER_MINUTE`).
 */
export const settingName = (key: string): string =>
  `FARM_${key
    .replace(/MiB/g, 'Mib')
    .replace(/[A-Z]/g, (c) => `_${c}`)
    .toUpperCase()}`;

/** "<what>, this farm takes at most <limit> (<setting>)". */
export const beyond = (what: string, limits: FarmLimits, key: keyof FarmLimits): string =>
  `${what}, this farm takes at most ${limits[key]} (${settingName(key)})`;

export interface LimitCheck {
  /** Frames the job renders (default: all of the scene's). */
  frames?: number;
  /** Bytes of the scene's assets, where they are known. */
  assetBytes?: number;
  /**
   * Only what the scene holds (triangles, textures, assets), not its size as a job (pixels,
   * samples, frames), which the submit form still sets: for an import.
   */
  contentOnly?: boolean;
}

/** What a valid scene holds beyond a farm's limits, by its path in the scene. */
export function farmLimitIssues(scene: Scene, limits: FarmLimits, check: LimitCheck = {}): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const over = (path: string, what: string, key: keyof FarmLimits) => issues.push({ path, message: beyond(what, limits, key) });
  // Counted as the worker expands instances, without expanding them.
  const triangles = triangleCount(scene.objects);
  if (triangles > limits.maxTriangles) over('objects', `scene has ${triangles} triangles`, 'maxTriangles');
  scene.textures.forEach((t, i) => {
    if (Math.max(t.width, t.height) > limits.maxTextureSize)
      over(`textures[${i}].${t.width >= t.height ? 'width' : 'height'}`, `texture "${t.name}" is ${t.width}×${t.height}`, 'maxTextureSize');
  });
  const texels = scene.textures.reduce((n, t) => n + t.width * t.height, 0);
  if (texels > limits.maxTexels) over('textures', `textures hold ${texels} texels`, 'maxTexels');
  if (check.assetBytes !== undefined && check.assetBytes > limits.maxAssetBytes)
    over('assets', `the scene's assets hold ${check.assetBytes} bytes`, 'maxAssetBytes');
  if (check.contentOnly) return issues;
  const { width, height, spp } = scene.render;
  if (width * height > limits.maxPixels) over('render.width', `${width}×${height} is ${width * height} pixels a frame`, 'maxPixels');
  if (spp > limits.maxSpp) over('render.spp', `${spp} samples per pixel`, 'maxSpp');
  const frames = check.frames ?? frameCount(scene);
  if (frames > limits.maxFrames) over('animation.frameCount', `the job renders ${frames} frames`, 'maxFrames');
  return issues;
}

/**
 * The issues as paths of a job request (POST /api/jobs): the request's own field where it
 * overrides the scene's (`width`, `spp`, `frames`), the scene's under `scene.` otherwise.
 */
export function inRequest(issues: FieldIssue[], request: { width?: number; height?: number; spp?: number; frames?: string }): FieldIssue[] {
  const own: Record<string, string | undefined> = {
    'render.width': request.width !== undefined ? 'width' : request.height !== undefined ? 'height' : undefined,
    'render.spp': request.spp !== undefined ? 'spp' : undefined,
    'animation.frameCount': request.frames !== undefined ? 'frames' : undefined,
  };
  return issues.map((i) => ({ ...i, path: own[i.path] ?? `scene.${i.path}` }));
}
