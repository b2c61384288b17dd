import { readFileSync, writeFileSync } from 'node:fs';
import { encodePng } from '../shared/png.ts';
import { parseScene } from '../shared/scene.ts';
import { Renderer } from '../worker/render/renderer.ts';

const raw = JSON.parse(readFileSync('scenes/room.json', 'utf8'));
const r = await Renderer.open('webasm');
const variants: Record<string, any> = {
  full: raw,
  skyNoBall: { ...raw, lights: [], objects: raw.objects.filter((o: any) => !o.material.includes('steel')) },
};
for (const [name, v] of Object.entries(variants)) {
  const s = parseScene({ ...v, render: { ...v.render, width: 160, height: 120, spp: 64 } });
  const out = await r.render(s, 0);
  let max = 0;
  for (const x of out.linear) max = Math.max(max, x);
  writeFileSync(`scratch/out/${name}.png`, await encodePng(out));
  console.log(name, 'max', max);
}
r.close();
