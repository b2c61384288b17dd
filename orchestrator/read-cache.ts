/**
 * A read shared by every caller for a while: the dispatcher asks for the market's state at every
 * poll, and Redis need answer only a few times an interval.
 */

/** `read`, done at most once per `maxAgeMs`; a failed read answers `fallback` and is not kept. */
export function readAtMostEvery<T>(maxAgeMs: number, read: () => Promise<T>, fallback: T): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > maxAgeMs)
      last = {
        at: now,
        value: read().catch(() => {
          last = undefined;
          return fallback;
        }),
      };
    return last.value;
  };
}
