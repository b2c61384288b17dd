/** The real producer: renders the assigned tile with the path tracer. */

import type { Producer } from './agent.ts';
import type { BackendChoice } from './render/backend.ts';
import { Renderer } from './render/renderer.ts';

export async function renderProducer(backend: BackendChoice): Promise<Producer> {
  const renderer = await Renderer.open(backend);
  return {
    device: renderer.device,
    fallback: renderer.backend.fallback,
    produce: async (order, scene, _purpose, onProgress, signal) => {
      const { rgba, rays } = await renderer.render(scene, order.frame, { tile: order.tile, onProgress, signal });
      return { rgba, rays };
    },
    close: () => renderer.close(),
  };
}
