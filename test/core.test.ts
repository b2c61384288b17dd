/** Unit tests of the orchestrator's pure core: planning, stitching layout, tile states (verdicts: verdict.test.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dispatchOrder, parseSlotId, parseTaskId, planJob, slotId } from '../orchestrator/planner.ts';
import { assembleFrame } from '../orchestrator/stitcher.ts';
import type { ReplicaView } from '../shared/protocol.ts';
import { tileCount, tileGrid } from '../shared/tile.ts';
import { tileLook } from '../shared/tile-state.ts';

describe('planner', () => {
  it('covers every frame with a ragged tile grid', () => {
    const tasks = planJob('jabcdefghij', [0, 2], 100, 70, 32);
    expect(tasks).toHaveLength(2 * 4 * 3);
    expect(tasks[0]).toEqual({ id: 'jabcdefghij.f0.t0', frame: 0, tile: 0, rect: { x: 0, y: 0, width: 32, height: 32 } });
    expect(tasks[11].rect).toEqual({ x: 96, y: 64, width: 4, height: 6 });
    expect(tasks[12].frame).toBe(2);
  });

  it('counts tiles without making them', () => {
    for (const [w, h, s] of [
      [100, 70, 32],
      [64, 48, 16],
      [1, 1, 8],
      [3840, 2160, 64],
    ])
      expect(tileCount(w, h, s)).toBe(tileGrid(w, h, s).length);
  });

  it('queues frame after frame, each frame’s tiles in an order the random source picks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 60 }), fc.infiniteStream(fc.nat()), (frames, width, rolls) => {
        const tasks = planJob(
          'jabcdefghij',
          Array.from({ length: frames }, (_, f) => f * 3),
          width,
          20,
          8,
        );
        const order = dispatchOrder(tasks, (n) => rolls.next().value % n);
        // A permutation of the tasks, frames never interleaved and in their order.
        expect([...order].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...tasks].sort((a, b) => a.id.localeCompare(b.id)));
        expect(order.map((t) => t.frame)).toEqual(tasks.map((t) => t.frame));
      }),
    );
    // Any tile can come last (the first swap's draw picks it; the rest keep their places).
    const tasks = planJob('jabcdefghij', [0], 40, 8, 8);
    const lasts = Array.from({ length: 5 }, (_, k) => dispatchOrder(tasks, (n) => (n === 5 ? k : n - 1))[4].tile);
    expect(lasts.sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('round-trips task and slot ids', () => {
    expect(parseTaskId('jabcdef012.f12.t3')).toEqual({ job: 'jabcdef012', frame: 12, tile: 3 });
    expect(parseSlotId(slotId('jabcdef012.f12.t3', 4))).toEqual({ job: 'jabcdef012', task: 'jabcdef012.f12.t3', n: 4 });
    expect(parseTaskId('nope')).toBeUndefined();
  });
});

describe('stitcher', () => {
  it('places every tile row where it belongs', () => {
    const tiles = tileGrid(5, 3, 2).map((rect) => {
      const rgba = new Uint8Array(rect.width * rect.height * 4);
      for (let y = 0; y < rect.height; y++)
        for (let x = 0; x < rect.width; x++) rgba.set([rect.x + x, rect.y + y, 7, 255], (y * rect.width + x) * 4);
      return { rect, rgba };
    });
    const frame = assembleFrame(5, 3, tiles);
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 5; x++) expect([...frame.subarray((y * 5 + x) * 4, (y * 5 + x) * 4 + 4)]).toEqual([x, y, 7, 255]);
  });
  it('rejects gaps and wrong sizes', () => {
    expect(() => assembleFrame(4, 4, [{ rect: { x: 0, y: 0, width: 2, height: 2 }, rgba: new Uint8Array(16) }])).toThrow(/cover 4 of 16/);
    expect(() => assembleFrame(4, 4, [{ rect: { x: 0, y: 0, width: 4, height: 4 }, rgba: new Uint8Array(3) }])).toThrow(/3 bytes/);
  });
});

describe('tile look (dashboard states)', () => {
  const rep = (state: ReplicaView['state'], cid: string | null = null, spot = false): ReplicaView => ({
    spot,
    arbiter: false,
    replica: 'r0',
    worker: 'w',
    state,
    cid,
    rays: cid ? 0 : null,
    price: null,
    paid: null,
    assignedAt: 0,
    submittedAt: cid ? 1 : null,
    error: state === 'failed' ? 'boom' : null,
  });
  const look = (state: 'pending' | 'verified', replicas: ReplicaView[]) => tileLook({ state, replicas });

  it('walks pending → rendering → awaiting agreement → verified', () => {
    expect(look('pending', [])).toEqual({ state: 'pending', disputed: false });
    expect(look('pending', [rep('timedout'), rep('handedback'), rep('failed')])).toEqual({ state: 'pending', disputed: false });
    expect(look('pending', [rep('assigned')])).toEqual({ state: 'rendering', disputed: false });
    expect(look('pending', [rep('submitted', 'A'), rep('assigned')])).toEqual({ state: 'awaiting', disputed: false });
    expect(look('verified', [rep('valid', 'A'), rep('valid', 'A')])).toEqual({ state: 'verified', disputed: false });
  });

  it('marks disagreement while open and after the verdict', () => {
    expect(look('pending', [rep('submitted', 'A'), rep('submitted', 'B')])).toEqual({ state: 'disputed', disputed: true });
    expect(look('verified', [rep('valid', 'A'), rep('invalid', 'B'), rep('valid', 'A')])).toEqual({ state: 'verified', disputed: true });
    expect(look('verified', [rep('valid', 'A'), rep('invalid', 'B', true)])).toEqual({ state: 'verified', disputed: true });
  });

  it('marks results overruled without ground truth as disputed too', () => {
    expect(look('verified', [rep('valid', 'A'), rep('overruled', 'B')])).toEqual({ state: 'verified', disputed: true });
  });

  it('ignores abandoned and cancelled attempts', () => {
    expect(look('verified', [rep('timedout', 'B'), rep('valid', 'A')])).toEqual({ state: 'verified', disputed: false });
    expect(look('pending', [rep('cancelled', 'B'), rep('submitted', 'A')])).toEqual({ state: 'awaiting', disputed: false });
  });
});
