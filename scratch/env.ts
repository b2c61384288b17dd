import { encodeRadiance } from '../shared/radiance.ts';
import { parseScene } from '../shared/scene.ts';
import { Renderer } from '../worker/render/renderer.ts';

const W = 16,
  H = 8;
const rgb = new Float32Array(W * H * 3).fill(0.5);
const hdr = Buffer.from(encodeRadiance({ width: W, height: H, rgb })).toString('base64');
const scene = parseScene({
  version: 1,
  render: { width: 32, height: 32, spp: 1024, maxBounces: 4 },
  camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 20 },
  materials: [{ name: 'w', type: 'diffuse', albedo: [0.8, 0.8, 0.8] }],
  objects: [{ type: 'sphere', material: 'w', center: [0, 0, 0], radius: 0.8 }],
  environment: { hdr },
});
for (const b of ['cpu', 'webasm'] as const) {
  const r = await Renderer.open(b);
  const t = Date.now();
  const out = await r.render(scene, 0);
  const c = (x: number, y: number) => Array.from(out.linear.slice((y * 32 + x) * 3, (y * 32 + x) * 3 + 3)).map((v) => v.toFixed(3));
  let sum = 0,
    n = 0;
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) {
      if (Math.hypot(x + 0.5 - 16, y + 0.5 - 16) < 7) {
        sum += out.linear[(y * 32 + x) * 3];
        n++;
      }
    }
  console.log(b, Date.now() - t, 'ms centre', c(16, 16), 'edge', c(16, 26), 'bg', c(1, 1), 'mean', (sum / n).toFixed(4), n);
  r.close();
}
