/**
 * Generates scenes/knot.json: a (2,3) torus knot as a smooth triangle mesh of 4,096 triangles
 * over a checker-free ground, lit by a quad light. Run: npx tsx scenes/generate-knot.ts
 */
import { writeFileSync } from 'node:fs';

const ALONG = 128;
const AROUND = 16;
const TUBE = 0.28;

const curve = (t: number): [number, number, number] => {
  const r = 2 + Math.cos(3 * t);
  return [r * Math.cos(2 * t), r * Math.sin(2 * t), Math.sin(3 * t)];
};
const sub = (a: number[], b: number[]) => a.map((v, i) => v - b[i]);
const cross = (a: number[], b: number[]) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: number[]) => {
  const l = Math.hypot(...a);
  return a.map((v) => v / l);
};

const positions: number[] = [];
for (let i = 0; i < ALONG; i++) {
  const t = (i / ALONG) * 2 * Math.PI;
  const p = curve(t);
  const tangent = norm(sub(curve(t + 1e-3), curve(t - 1e-3)));
  const n = norm(cross(tangent, [0, 0, 1]));
  const b = cross(tangent, n);
  for (let j = 0; j < AROUND; j++) {
    const a = (j / AROUND) * 2 * Math.PI;
    for (let k = 0; k < 3; k++) positions.push(+(p[k] + TUBE * (Math.cos(a) * n[k] + Math.sin(a) * b[k])).toFixed(5));
  }
}
const indices: number[] = [];
for (let i = 0; i < ALONG; i++) {
  for (let j = 0; j < AROUND; j++) {
    const a = i * AROUND + j;
    const b = ((i + 1) % ALONG) * AROUND + j;
    const c = ((i + 1) % ALONG) * AROUND + ((j + 1) % AROUND);
    const d = i * AROUND + ((j + 1) % AROUND);
    indices.push(a, b, c, a, c, d);
  }
}

const scene = {
  version: 1,
  name: 'Torus knot (4,096 triangles)',
  render: { width: 320, height: 240, spp: 32, maxBounces: 4, seed: 7 },
  camera: { position: [0, 3.2, 8.5], lookAt: [0, 0.3, 0], fov: 40 },
  sky: { top: [0.25, 0.32, 0.45], bottom: [0.05, 0.05, 0.06] },
  materials: [
    { name: 'gold', type: 'metal', albedo: [0.95, 0.7, 0.3], roughness: 0.25 },
    { name: 'floor', type: 'diffuse', albedo: [0.6, 0.6, 0.6] },
    { name: 'lamp', type: 'emissive', color: [1, 0.95, 0.9], strength: 6 },
  ],
  objects: [
    {
      type: 'mesh',
      material: 'gold',
      smooth: true,
      positions,
      indices,
      transform: { translate: [0, 0.6, 0], rotate: [-70, 0, 0], scale: 1 },
    },
    { type: 'plane', point: [0, -1.2, 0], normal: [0, 1, 0], size: 40, material: 'floor' },
    { type: 'quad', corner: [-2, 6, -2], u: [4, 0, 0], v: [0, 0, 4], material: 'lamp' },
  ],
};
writeFileSync(new URL('./knot.json', import.meta.url), `${JSON.stringify(scene)}\n`);
console.log(`knot.json: ${indices.length / 3} triangles`);
