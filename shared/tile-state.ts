/**
 * What a tile looks like to a requester watching it render: one of five states derived from
 * its task view, plus a mark when replicas of it ever disagreed (even if it is verified now).
 */
import { GAVE_UP, type TaskView } from './protocol.ts';

export const TILE_STATES = ['pending', 'rendering', 'awaiting', 'verified', 'disputed'] as const;
export type TileState = (typeof TILE_STATES)[number];

export const TILE_STATE_LABELS: Record<TileState, string> = {
  pending: 'pending',
  rendering: 'rendering',
  awaiting: 'awaiting agreement',
  verified: 'verified',
  disputed: 'disputed',
};

export interface TileLook {
  state: TileState;
  /** Some replica's result differed from another's or from the verified one. */
  disputed: boolean;
}

export function tileLook(view: Pick<TaskView, 'state' | 'replicas'>): TileLook {
  const live = view.replicas.filter((r) => r.state !== 'cancelled' && !GAVE_UP.has(r.state));
  const results = new Set(live.filter((r) => r.cid).map((r) => r.cid));
  const disputed = live.some((r) => r.state === 'invalid' || r.state === 'overruled') || results.size > 1;
  if (view.state === 'verified') return { state: 'verified', disputed };
  if (disputed) return { state: 'disputed', disputed };
  if (live.some((r) => r.state === 'submitted' || r.state === 'valid')) return { state: 'awaiting', disputed };
  if (live.some((r) => r.state === 'assigned')) return { state: 'rendering', disputed };
  return { state: 'pending', disputed };
}
