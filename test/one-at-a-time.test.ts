/**
 * One judgement of a task at a time (orchestrator/verdict/one-at-a-time.ts): a call is answered by
 * the first run that read after it — the run under way when its read is to come, else one more —
 * each caller hears how its own run ended, and keys do not wait for each other.
 */
import { describe, expect, it } from 'vitest';
import { OneAtATime } from '../orchestrator/verdict/one-at-a-time.ts';

/** Work whose runs are logged, and read and finish when the test says. */
function gated() {
  const runs: { key: string; read: () => void; finish: (error?: Error) => void }[] = [];
  const work = new OneAtATime<string>(
    (key, reading) =>
      new Promise<void>((resolve, reject) => {
        runs.push({ key, read: reading, finish: (error) => (error ? reject(error) : resolve()) });
      }),
  );
  return { work, runs };
}

const settled = () => new Promise((r) => setTimeout(r, 0));

/** A call's outcome so far: pending, done, or its error's message. */
function watch(call: Promise<void>) {
  const state = { outcome: 'pending' as string };
  call.then(
    () => {
      state.outcome = 'done';
    },
    (e: Error) => {
      state.outcome = e.message;
    },
  );
  return state;
}

describe('one run at a time per key', () => {
  it('answers every call made before its read with that one run', async () => {
    const { work, runs } = gated();
    const calls = [work.run('t'), work.run('t'), work.run('t')];
    await settled();
    expect(runs).toHaveLength(1);
    runs[0].read();
    runs[0].finish();
    await Promise.all(calls);
    expect(runs).toHaveLength(1);
  });

  it('answers a call made after the read with one more run, and the first caller as soon as its own run ends', async () => {
    const { work, runs } = gated();
    const first = watch(work.run('t'));
    await settled();
    runs[0].read();
    const later = [watch(work.run('t')), watch(work.run('t'))];
    runs[0].finish();
    await settled();
    // The later callers' change may not be in the first read: a second run, one for both.
    expect(runs).toHaveLength(2);
    expect(first.outcome).toBe('done');
    expect(later.map((c) => c.outcome)).toEqual(['pending', 'pending']);
    runs[1].read();
    runs[1].finish();
    await settled();
    expect(later.map((c) => c.outcome)).toEqual(['done', 'done']);
    expect(runs).toHaveLength(2);
  });

  it('lets different keys run side by side', async () => {
    const { work, runs } = gated();
    const calls = [work.run('a'), work.run('b')];
    await settled();
    expect(runs.map((r) => r.key)).toEqual(['a', 'b']);
    for (const r of runs) {
      r.read();
      r.finish();
    }
    await Promise.all(calls);
  });

  it('rejects only the callers a failed run answered: one made after its read gets a run of its own', async () => {
    const { work, runs } = gated();
    const before = watch(work.run('t'));
    await settled();
    runs[0].read();
    const after = watch(work.run('t'));
    runs[0].finish(new Error('redis went away'));
    await settled();
    expect(before.outcome).toBe('redis went away');
    expect(after.outcome).toBe('pending');
    expect(runs).toHaveLength(2);
    runs[1].read();
    runs[1].finish();
    await settled();
    expect(after.outcome).toBe('done');
  });

  it('does not reject callers a run answered already when a later run fails', async () => {
    const { work, runs } = gated();
    const first = watch(work.run('t'));
    await settled();
    runs[0].read();
    const second = watch(work.run('t'));
    runs[0].finish();
    await settled();
    runs[1].read();
    runs[1].finish(new Error('redis went away'));
    await settled();
    expect([first.outcome, second.outcome]).toEqual(['done', 'redis went away']);
    // Nothing under way: the next call runs anew.
    const third = watch(work.run('t'));
    await settled();
    expect(runs).toHaveLength(3);
    runs[2].read();
    runs[2].finish();
    await settled();
    expect(third.outcome).toBe('done');
  });

  it('reads again on a retry, so a call made before the retry read is answered by it', async () => {
    const { work, runs } = gated();
    const first = work.run('t');
    await settled();
    runs[0].read();
    // The task changed under the first read: a call comes in, then the run reads again and finishes.
    const second = work.run('t');
    runs[0].read();
    runs[0].finish();
    await Promise.all([first, second]);
    expect(runs).toHaveLength(1);
  });

  it('answers the callers of a run that never read, rather than run again and again', async () => {
    let runs = 0;
    const work = new OneAtATime<string>(async () => {
      runs++;
    });
    await Promise.all([work.run('t'), work.run('t')]);
    expect(runs).toBe(1);
  });
});
