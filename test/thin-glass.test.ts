/**
 * Thin dielectrics (window panes): light reaches a floor under a pane as the pane's tint × (1 − its
 * Fresnel reflectance), whether it comes by a shadow ray (a directional light: exact) or by paths
 * and light samples sharing a sky through MIS (a uniform HDRI: the cosine-weighted integral).
 */
import { describe, expect, it } from 'vitest';
import { encodeRadiance } from '../shared/radiance.ts';
import { parseScene, type SceneInput } from '../shared/scene.ts';
import { useRenderers } from './support/renderers.ts';

const on = useRenderers(['webasm']);

const TINT = [0.9, 0.8, 0.7];
const IOR = 1.5;
const F0 = ((IOR - 1) / (IOR + 1)) ** 2;
const schlick = (cos: number) => F0 + (1 - F0) * (1 - cos) ** 5;

/** A white floor seen from above through nothing but a huge horizontal pane between them (or none). */
function floorUnder(pane: boolean, light: Partial<SceneInput>): SceneInput {
  return {
    version: 1,
    render: { width: 16, height: 16, spp: 256, maxBounces: 2 },
    camera: { position: [0, 0.5, 0], lookAt: [0, 0, 0], up: [0, 0, -1], fov: 20 },
    materials: [
      { name: 'floor', type: 'diffuse', albedo: [1, 1, 1] },
      { name: 'pane', type: 'dielectric', ior: IOR, tint: TINT as [number, number, number], thin: true },
    ],
    objects: [
      { type: 'plane', material: 'floor', point: [0, 0, 0], normal: [0, 1, 0], size: 1e4 },
      ...(pane
        ? [
            {
              type: 'plane' as const,
              material: 'pane',
              point: [0, 1, 0] as [number, number, number],
              normal: [0, 1, 0] as [number, number, number],
              size: 1e4,
            },
          ]
        : []),
    ],
    ...light,
  };
}

async function mean(input: SceneInput): Promise<number[]> {
  const { linear } = await on('webasm').render(parseScene(input), 0);
  const sum = [0, 0, 0];
  for (let i = 0; i < linear.length; i++) sum[i % 3] += linear[i] / (linear.length / 3);
  return sum;
}

describe('thin dielectrics', () => {
  it('pass a shadow ray at tint × (1 − Fresnel): a directional light through a pane', async () => {
    // The camera sits below the pane, so only the light crosses it.
    const sun = { lights: [{ type: 'directional' as const, direction: [0, -1, 0] as [number, number, number], intensity: Math.PI }] };
    const open = await mean(floorUnder(false, sun));
    const paned = await mean({ ...floorUnder(true, sun), render: { width: 16, height: 16, spp: 16, maxBounces: 1 } });
    for (let c = 0; c < 3; c++) {
      expect(open[c]).toBeCloseTo(1, 5);
      expect(paned[c]).toBeCloseTo(TINT[c] * (1 - schlick(1)), 5);
    }
  });

  it('under a uniform HDRI, let through the cosine-weighted transmittance, by paths and light samples together', async () => {
    const sky = encodeRadiance({ width: 8, height: 4, rgb: new Float32Array(8 * 4 * 3).fill(0.5) });
    const light = { environment: { hdr: Buffer.from(sky).toString('base64') } };
    const open = await mean(floorUnder(false, light));
    const paned = await mean(floorUnder(true, light));
    // ∫ (1 − F(θ)) 2 cos θ sin θ dθ over the hemisphere, numerically.
    let passed = 0;
    const steps = 20000;
    for (let i = 0; i < steps; i++) {
      const theta = ((i + 0.5) / steps) * (Math.PI / 2);
      passed += (1 - schlick(Math.cos(theta))) * 2 * Math.cos(theta) * Math.sin(theta) * (Math.PI / 2 / steps);
    }
    for (let c = 0; c < 3; c++) expect(paned[c] / open[c] / (TINT[c] * passed)).toBeCloseTo(1, 1.7); // within 1 %
  });
});
