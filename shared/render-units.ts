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

export const toRu = (rays: number): number => rays / RAYS_PER_RU;
