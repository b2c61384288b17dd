/** The worker's status line, from its state: what it says, how it counts the day, how it fits the terminal. */
import { describe, expect, it } from 'vitest';
import {
  type AgentEvent,
  applyEvent,
  type FarmRecord,
  formatStatus,
  humanLogLine,
  initialStatus,
  type WorkerStatus,
  withRecord,
} from '../worker/status-line.ts';

const GPU = 'farm-pt/4+webgpu:nvidia/ampere/NVIDIA GeForce RTX 3090';
/** 09:30 local time on a weekday, and a few seconds after. */
const START = new Date(2025, 2, 14, 9, 30, 0).getTime();
const at = (seconds: number) => START + seconds * 1000;
const WIDE = 300;

const statusAfter = (events: AgentEvent[], device = GPU, now = START): WorkerStatus =>
  events.reduce((s, e) => applyEvent(s, e, now), initialStatus(device, START));

const record: FarmRecord = { credibility: 0.98765, passed: 12, trusted: false, balance: 12.5, stake: 100, earned: 3.25 };
const tile = { x: 64, y: 128, width: 64, height: 64 };

describe('the worker status line', () => {
  it('says what it runs on, what it does, and that the farm has not answered yet', () => {
    expect(formatStatus(initialStatus(GPU, START), at(1), WIDE)).toBe(
      'webgpu:nvidia/ampere/NVIDIA GeForce RTX 3090 | registering | since 09:30 0/0 accepted | credibility ? | balance ?',
    );
    expect(formatStatus(statusAfter([{ kind: 'calibrating' }], 'farm-pt/4+cpu'), at(1), WIDE)).toMatch(/^cpu \| calibrating \| /);
    expect(formatStatus(statusAfter([{ kind: 'polling' }], 'farm-pt/4+webasm'), at(1), WIDE)).toMatch(/^webasm \| waiting for work \| /);
  });

  it('shows the tile in progress: the share done when the renderer reports it, else only the time on it', () => {
    const started = statusAfter([{ kind: 'rendering', frame: 3, tile, index: 2, of: 4 }]);
    expect(formatStatus(started, at(7), WIDE)).toContain('| frame 3 tile 64,128 64x64 [2/4] 7s |');
    const progressed = applyEvent(started, { kind: 'progress', done: 16, total: 64 }, at(2));
    expect(formatStatus(progressed, at(75), WIDE)).toContain('| frame 3 tile 64,128 64x64 [2/4] 25% 1m15s |');
    const single = statusAfter([{ kind: 'rendering', frame: 0, tile, index: 1, of: 1 }]);
    expect(formatStatus(single, at(3), WIDE)).toContain('| frame 0 tile 64,128 64x64 3s |');
    // Progress with no tile in progress (a calibration tile) changes nothing.
    expect(applyEvent(statusAfter([{ kind: 'calibrating' }]), { kind: 'progress', done: 1, total: 2 }, START).activity).toEqual({
      kind: 'calibrating',
    });
  });

  it('counts results accepted of those sent, since the start on its first day and since midnight after', () => {
    const s = statusAfter([
      { kind: 'uploading', results: 3 },
      { kind: 'uploaded', accepted: 2, refused: 1 },
      { kind: 'uploaded', accepted: 4, refused: 0 },
    ]);
    expect(formatStatus(s, at(60), WIDE)).toContain('| waiting for work | since 09:30 6/7 accepted |');
    expect(formatStatus(statusAfter([{ kind: 'uploading', results: 3 }]), at(1), WIDE)).toContain('| uploading 3 results |');
    const nextMorning = new Date(2025, 2, 15, 8, 0, 0).getTime();
    expect(formatStatus(s, nextMorning, WIDE)).toContain('| today 0/0 accepted |');
    const counted = applyEvent(s, { kind: 'uploaded', accepted: 1, refused: 0 }, nextMorning);
    expect(formatStatus(counted, nextMorning + 1000, WIDE)).toContain('| today 1/1 accepted |');
  });

  it("shows the farm's record as last fetched: credibility with its checks, or trusted; credits", () => {
    const s = withRecord(initialStatus(GPU, START), record);
    expect(formatStatus(s, at(1), WIDE)).toMatch(/\| credibility 0\.9877 \(12 checks\) \| balance 12\.5 cr, stake 100, earned 3\.25$/);
    expect(formatStatus(withRecord(s, { ...record, trusted: true }), at(1), WIDE)).toContain("| trusted (the operator's) |");
  });

  it('says when the farm is away, and counts down to the next try; a refusal holds until an answer', () => {
    const away = statusAfter([{ kind: 'unreachable', retryMs: 4000 }]);
    expect(formatStatus(away, at(1), WIDE)).toContain('| orchestrator unreachable, retry in 3s |');
    expect(formatStatus(away, at(5), WIDE)).toContain('| orchestrator unreachable, retrying |');
    expect(formatStatus(applyEvent(away, { kind: 'polling' }, at(5)), at(5), WIDE)).toContain('unreachable');
    expect(formatStatus(applyEvent(away, { kind: 'polled' }, at(6)), at(6), WIDE)).toContain('| waiting for work |');
    const held = statusAfter([{ kind: 'held', reason: 'Stake required' }, { kind: 'polling' }]);
    expect(formatStatus(held, at(1), WIDE)).toContain('| held: Stake required |');
    expect(formatStatus(statusAfter([{ kind: 'stopping' }, { kind: 'polled' }]), at(1), WIDE)).toContain('| stopping |');
  });

  it('fits the terminal: the device shortens to its backend first, then the end is cut', () => {
    const s = withRecord(statusAfter([{ kind: 'rendering', frame: 3, tile, index: 1, of: 1 }]), record);
    const full = formatStatus(s, at(2), WIDE);
    const short = full.replace('webgpu:nvidia/ampere/NVIDIA GeForce RTX 3090', 'webgpu');
    expect(full.startsWith('webgpu:nvidia/')).toBe(true);
    // A line that fills the last column would wrap: it keeps one free.
    expect(formatStatus(s, at(2), full.length + 1)).toBe(full);
    expect(formatStatus(s, at(2), full.length)).toBe(short);
    const narrow = formatStatus(s, at(2), 40);
    expect(narrow).toHaveLength(39);
    expect(narrow).toBe(`${short.slice(0, 38)}…`);
    for (const columns of [1, 2, 10, 80]) expect(formatStatus(s, at(2), columns).length).toBeLessThanOrEqual(Math.max(1, columns - 1));
  });
});

describe('log lines on a terminal', () => {
  it('prints warnings and errors with their details, and leaves out the per-replica info lines', () => {
    expect(
      humanLogLine({
        level: 40,
        time: START,
        pid: 1,
        process: 'worker',
        worker: 'w1',
        msg: 'worker loop error',
        err: 'fetch failed',
        replicas: [],
      }),
    ).toBe('warning: worker loop error (err: fetch failed)');
    expect(humanLogLine({ level: 50, replica: 'r1', msg: 'render failed', err: 'boom' })).toBe(
      'error: render failed (replica: r1, err: boom)',
    );
    expect(humanLogLine({ level: 30, replica: 'r1', msg: 'replica uploaded', ms: 12 })).toBeUndefined();
    expect(humanLogLine({ level: 30, msg: 'registered', device: 'farm-pt/4+cpu' })).toBe('registered (device: farm-pt/4+cpu)');
    expect(humanLogLine({ level: 30, msg: 'stake deposited', balance: 0, stake: 100 })).toBe('stake deposited (balance: 0, stake: 100)');
  });
});
