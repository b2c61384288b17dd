/**
 * The market's unit of work. A render unit (RU, version 1) is 10^9 rays traced by the path tracer
 * (camera, path and shadow rays), counted by the kernel itself and part of the canonical result
 * that replicas must agree on, so nobody can claim more work than the tile took.
 */
import { LIMITS } from './scene.ts';

export const RU_VERSION = 1;
export const RAYS_PER_RU = 1e9;

/** The most rays one sample can trace: the camera ray, then per bounce a path ray and at most one shadow ray. */
export const maxRaysPerSample = (maxBounces: number): number => 2 * (maxBounces + 1) + 1;

/** The most rays a tile of `pixels` at `spp` can trace in any scene the farm accepts. */
export const maxRays = (pixels: number, spp: number): number => pixels * spp * maxRaysPerSample(LIMITS.maxBounces);

/**
 * What a ray may cost: the most BVH boxes visited and primitives tested per ray a kernel cell
 * traced (a cell: one group of a pixel's samples), with one sample's rays of slack so that a cell
 * of few rays may graze a dense mesh. Rays are what the market pays for, so without a bound a
 * scene of large triangles stacked along the view (each ray walks all of them) cost a worker
 * thousands of times a typical scene's time a ray and ran past the task timeout, a penalty for
 * every worker that took it. At the bound a ray costs about three of the Cornell box's (webasm);
 * the generated knot, the densest sample scene, needs 128 at most. The count is as deterministic
 * as the pixels, so every worker stops such a tile at the same cell, with the same render error.
 */
export const WORK_PER_RAY = 1024;

export const toRu = (rays: number): number => rays / RAYS_PER_RU;
