/**
 * The HDRI sky as the kernel reads it: its pixels, and the tables that pick a pixel in proportion
 * to its brightness (luminance × sin θ, the solid angle its row covers), so a small bright sun is
 * found by the shadow rays instead of by luck.
 *
 * The sky is piecewise constant, one value per pixel, and a direction is drawn uniformly inside
 * the chosen pixel's (u, v) cell, so its solid-angle density is
 *   p(ω) = P(row) · P(column | row) · width · height / (2π² · sin θ)
 * which the kernel computes from the same tables: sampling and weighting cannot disagree.
 */

import { decodeRadiance, type RadianceImage } from '../../shared/radiance.ts';
import { bytesOfBase64, type Environment, LIMITS } from '../../shared/scene.ts';

export interface EnvironmentTables {
  width: number;
  height: number;
  /** Linear RGB (× intensity), 3 floats per pixel, rows from the top. */
  rgb: Float32Array;
  /**
   * height floats: the rows' cumulative probabilities; then height × width: each row's columns'
   * cumulative probabilities. Each run ends at exactly 1.
   */
  cdf: Float32Array;
  /** Binary-search steps that find any index in a run of max(width, height). */
  searchSteps: number;
}

/** Rec. 709 luminance: the brightness the sampler follows. */
const luminance = (r: number, g: number, b: number): number => 0.2126 * r + 0.7152 * g + 0.0722 * b;

/** Tables for an image; undefined when it is black everywhere (nothing to sample). */
export function environmentTables(image: RadianceImage, intensity: number): EnvironmentTables | undefined {
  const { width, height } = image;
  const rgb = new Float32Array(image.rgb.length);
  for (let i = 0; i < rgb.length; i++) rgb[i] = image.rgb[i] * intensity;
  const cdf = new Float32Array(height + width * height);
  const rowWeights = new Float64Array(height);
  for (let y = 0; y < height; y++) {
    const sinTheta = Math.sin((Math.PI * (y + 0.5)) / height);
    let sum = 0;
    const row = height + y * width;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      sum += luminance(rgb[i], rgb[i + 1], rgb[i + 2]);
      cdf[row + x] = sum;
    }
    // A black row is never chosen; its columns still get a valid (uniform) table.
    for (let x = 0; x < width; x++) cdf[row + x] = sum > 0 ? cdf[row + x] / sum : (x + 1) / width;
    cdf[row + width - 1] = 1;
    rowWeights[y] = sum * sinTheta;
  }
  const total = rowWeights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return undefined;
  let running = 0;
  for (let y = 0; y < height; y++) {
    running += rowWeights[y];
    cdf[y] = running / total;
  }
  cdf[height - 1] = 1;
  return { width, height, rgb, cdf, searchSteps: Math.ceil(Math.log2(Math.max(width, height))) + 1 };
}

/** Decoded once per scene object: a worker renders many tiles and frames of one scene. */
const decoded = new WeakMap<Environment, EnvironmentTables | undefined>();

export function tablesOf(environment: Environment): EnvironmentTables | undefined {
  if (!decoded.has(environment)) {
    const image = decodeRadiance(bytesOfBase64(environment.hdr), LIMITS.maxRadiance);
    decoded.set(environment, environmentTables(image, environment.intensity));
  }
  return decoded.get(environment);
}
