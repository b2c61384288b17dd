/**
 * Determinism classes, measured (pure). A worker's class is the fingerprint of its answers to the
 * calibration tiles, so workers whose pixels are bit-identical share a class whatever they call
 * themselves. A class is *established* only by the operator's trusted workers; a worker whose
 * answers equal an established class's joins it. One whose answers only nearly match (within the
 * published tolerance) forms a *provisional* class, which never defines truth: its results are
 * judged against the established class's verified tiles. Anything else is refused.
 */
import { createHash } from 'node:crypto';
import type { ClassState } from '../shared/protocol.ts';
import { nearlyEqual, type Tolerance } from './verdict/tolerance.ts';

export interface Answers {
  cids: readonly string[];
  pixels: readonly Uint8Array[];
}

export interface KnownClass extends Answers {
  id: string;
  established: boolean;
}

export type Classification = {
  class: string | null;
  state: Exclude<ClassState, 'calibrating'>;
  /** A provisional class: the established class it nearly matches. */
  near: string | null;
  /** The answers establish a new class (a trusted worker's). */
  establishes: boolean;
  detail: string;
};

/** `c` + 12 hex digits of SHA-256 over the answers' CIDs, in order. */
export const fingerprint = (cids: readonly string[]): string =>
  `c${createHash('sha256').update(cids.join('\n')).digest('hex').slice(0, 12)}`;

export function classify(answers: Answers, known: readonly KnownClass[], trusted: boolean, tolerance: Tolerance): Classification {
  const id = fingerprint(answers.cids);
  const established = known.filter((c) => c.established);
  if (trusted) {
    const isNew = !established.some((c) => c.id === id);
    return {
      class: id,
      state: 'established',
      near: null,
      establishes: isNew,
      detail: isNew ? 'established a new class' : 'joined its class',
    };
  }
  if (established.some((c) => c.id === id)) {
    return { class: id, state: 'established', near: null, establishes: false, detail: 'answers equal an established class' };
  }
  if (established.length === 0) {
    return {
      class: null,
      state: 'unclassified',
      near: null,
      establishes: false,
      detail: 'no class is established yet: the operator’s trusted workers establish classes',
    };
  }
  const near = established.find(
    (c) => c.pixels.length === answers.pixels.length && c.pixels.every((p, i) => nearlyEqual(p, answers.pixels[i], tolerance)),
  );
  if (near) {
    return {
      class: id,
      state: 'provisional',
      near: near.id,
      establishes: false,
      detail: `answers nearly match class ${near.id}: provisional, checks only`,
    };
  }
  return {
    class: null,
    state: 'refused',
    near: null,
    establishes: false,
    detail: 'answers match no established class, even within the tolerance',
  };
}
