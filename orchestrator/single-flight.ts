/** Work shared by its callers. */

/**
 * `compute`'s answer, computed one at a time and at most once every `ms`: calls while it is
 * computed share it, however long that takes, and calls within `ms` of its start get it as it was
 * (a failure is not kept).
 */
export function sharedFor<T>(ms: number, compute: () => Promise<T>): () => Promise<T> {
  let last: { at: number; settled: boolean; answer: Promise<T> } | undefined;
  return () => {
    if (last && (!last.settled || performance.now() - last.at < ms)) return last.answer;
    const entry = { at: performance.now(), settled: false, answer: compute() };
    last = entry;
    entry.answer.then(
      () => {
        entry.settled = true;
      },
      () => {
        if (last === entry) last = undefined;
      },
    );
    return entry.answer;
  };
}
