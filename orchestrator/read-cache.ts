/**
 * A read shared by every caller for a while: the dispatcher asks for the market's state at every
 * poll, and Redis need answer only a few times an interval.
 */

/**
 * `read`, done at most once per `maxAgeMs`; a failed read answers `fallback` and is not kept. A
 * value read in another period (`periodOf`, say the forward window delivering then) is never
 * answered: a window that has just begun is read at once, not a moment later.
 */
export function readAtMostEvery<T>(
  maxAgeMs: number,
  read: (now: number) => Promise<T>,
  fallback: T,
  periodOf: (now: number) => number = () => 0,
): () => Promise<T> {
  let last: { at: number; period: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    const period = periodOf(now);
    if (!last || now - last.at > maxAgeMs || last.period !== period)
      last = {
        at: now,
        period,
        value: read(now).catch(() => {
          last = undefined;
          return fallback;
        }),
      };
    return last.value;
  };
}
