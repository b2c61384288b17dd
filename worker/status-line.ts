/**
 * What a worker on a terminal shows in its one status line: what it runs on, what it is doing,
 * what it has done today, and what the farm says of it (credibility, credits). Pure: the agent's
 * events fold into a state, and the state, the time and the terminal's width make the line;
 * cli/worker-terminal.ts draws it and keeps the farm's record fresh.
 */
import { formatCredits } from '../shared/money.ts';
import type { WorkerView } from '../shared/protocol.ts';
import type { Rect } from '../shared/tile.ts';

/** What the agent tells whoever watches it, as it happens. */
export type AgentEvent =
  | { kind: 'calibrating' }
  /** A poll for work begins … */
  | { kind: 'polling' }
  /** … and an orchestrator answered it. */
  | { kind: 'polled' }
  /** The `index`-th of the `of` replicas in hand. */
  | { kind: 'rendering'; frame: number; tile: Rect; index: number; of: number }
  /** Part of the tile in progress done, as the renderer reports it. */
  | { kind: 'progress'; done: number; total: number }
  | { kind: 'uploading'; results: number }
  | { kind: 'uploaded'; accepted: number; refused: number }
  /** No orchestrator answered; the next try is in `retryMs`. */
  | { kind: 'unreachable'; retryMs: number }
  /** The farm refuses work for now (e.g. "Stake required"). */
  | { kind: 'held'; reason: string }
  | { kind: 'stopping' };

/** What the status line shows of the farm's public record of the worker. */
export type FarmRecord = Pick<WorkerView, 'credibility' | 'passed' | 'trusted' | 'balance' | 'stake' | 'earned'>;

type Activity =
  | { kind: 'starting' | 'calibrating' | 'idle' | 'stopping' }
  | { kind: 'rendering'; frame: number; tile: Rect; index: number; of: number; startedAt: number; done?: number; total?: number }
  | { kind: 'uploading'; results: number }
  | { kind: 'unreachable'; retryAt: number }
  | { kind: 'held'; reason: string };

export interface WorkerStatus {
  /** What the worker says it runs on (`farm-pt/6+webgpu:nvidia/…`, `…+webasm`, `…+cpu`). */
  device: string;
  activity: Activity;
  /** The counts below are since this: local midnight, or the start when that was later. */
  since: number;
  /** Results the orchestrators took, of those uploaded (refused ones are the difference). */
  accepted: number;
  submitted: number;
  /** The farm's record as last fetched; a failed fetch keeps it. */
  record?: FarmRecord;
}

export const initialStatus = (device: string, now: number): WorkerStatus => ({
  device,
  activity: { kind: 'starting' },
  since: now,
  accepted: 0,
  submitted: 0,
});

const midnightBefore = (t: number): number => new Date(t).setHours(0, 0, 0, 0);

/** A new day starts the counts again. */
function counted(s: WorkerStatus, now: number): WorkerStatus {
  const midnight = midnightBefore(now);
  return s.since < midnight ? { ...s, since: midnight, accepted: 0, submitted: 0 } : s;
}

export function applyEvent(status: WorkerStatus, e: AgentEvent, now: number): WorkerStatus {
  const s = counted(status, now);
  switch (e.kind) {
    case 'calibrating':
    case 'stopping':
      return { ...s, activity: { kind: e.kind } };
    case 'polling':
      // A poll under a refusal or after an outage does not end it: only an answer does.
      return s.activity.kind === 'held' || s.activity.kind === 'unreachable' || s.activity.kind === 'stopping'
        ? s
        : { ...s, activity: { kind: 'idle' } };
    case 'polled':
      return s.activity.kind === 'stopping' ? s : { ...s, activity: { kind: 'idle' } };
    case 'rendering':
      return { ...s, activity: { kind: 'rendering', frame: e.frame, tile: e.tile, index: e.index, of: e.of, startedAt: now } };
    case 'progress':
      return s.activity.kind === 'rendering' ? { ...s, activity: { ...s.activity, done: e.done, total: e.total } } : s;
    case 'uploading':
      return { ...s, activity: { kind: 'uploading', results: e.results } };
    case 'uploaded': {
      const activity: Activity = s.activity.kind === 'stopping' ? s.activity : { kind: 'idle' };
      return { ...s, activity, accepted: s.accepted + e.accepted, submitted: s.submitted + e.accepted + e.refused };
    }
    case 'unreachable':
      return { ...s, activity: { kind: 'unreachable', retryAt: now + e.retryMs } };
    case 'held':
      return { ...s, activity: { kind: 'held', reason: e.reason } };
  }
}

export const withRecord = (s: WorkerStatus, record: FarmRecord): WorkerStatus => ({ ...s, record });

const pad2 = (n: number) => String(n).padStart(2, '0');
/** Local wall-clock time, HH:MM:SS (or HH:MM). */
export function clock(t: number, seconds = true): string {
  const d = new Date(t);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ''}`;
}

/** 7s, 2m05s, 1h02m. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad2(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad2(Math.floor((s % 3600) / 60))}m`;
}

function activityText(a: Activity, now: number): string {
  switch (a.kind) {
    case 'starting':
      return 'registering';
    case 'calibrating':
      return 'calibrating';
    case 'idle':
      return 'waiting for work';
    case 'stopping':
      return 'stopping';
    case 'uploading':
      return `uploading ${a.results} result${a.results === 1 ? '' : 's'}`;
    case 'unreachable':
      return a.retryAt > now
        ? `orchestrator unreachable, retry in ${duration(a.retryAt - now + 999)}`
        : 'orchestrator unreachable, retrying';
    case 'held':
      return `held: ${a.reason}`;
    case 'rendering': {
      const { frame, tile } = a;
      const part = a.of > 1 ? ` [${a.index}/${a.of}]` : '';
      const progress = a.total ? ` ${Math.floor((100 * (a.done ?? 0)) / a.total)}%` : '';
      return `frame ${frame} tile ${tile.x},${tile.y} ${tile.width}x${tile.height}${part}${progress} ${duration(now - a.startedAt)}`;
    }
  }
}

function recordText(r: FarmRecord | undefined): string[] {
  if (!r) return ['credibility ?', 'balance ?'];
  const credibility = r.trusted ? "trusted (the operator's)" : `credibility ${r.credibility.toFixed(4)} (${r.passed} checks)`;
  return [credibility, `balance ${formatCredits(r.balance)} cr, stake ${formatCredits(r.stake)}, earned ${formatCredits(r.earned)}`];
}

const SEPARATOR = ' | ';

/**
 * The status line, at most `columns - 1` characters (a terminal wraps a line that fills its last
 * column): the device shortens to its backend first, then the end is cut.
 */
export function formatStatus(status: WorkerStatus, now: number, columns: number): string {
  const s = counted(status, now);
  const today = s.since === midnightBefore(now) ? 'today' : `since ${clock(s.since, false)}`;
  const rest = [activityText(s.activity, now), `${today} ${s.accepted}/${s.submitted} accepted`, ...recordText(s.record)];
  const width = Math.max(1, columns - 1);
  const device = s.device.slice(s.device.lastIndexOf('+') + 1);
  let line = [device, ...rest].join(SEPARATOR);
  if (line.length > width) line = [device.split(':')[0], ...rest].join(SEPARATOR);
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** Fields of a log record a person does not need on a terminal (the status line says who and where). */
const QUIET_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'process', 'worker', 'name', 'msg', 'v']);
const LEVELS: Record<number, string> = { 40: 'warning: ', 50: 'error: ', 60: 'fatal: ' };

/**
 * A pino record as a line for a person, without its time; undefined for the per-replica info
 * lines the status line already sums up (one per tile would scroll the terminal away).
 */
export function humanLogLine(record: Record<string, unknown>): string | undefined {
  const level = typeof record.level === 'number' ? record.level : 30;
  if (level < 40 && 'replica' in record) return undefined;
  const details = Object.entries(record)
    .filter(([k, v]) => !QUIET_FIELDS.has(k) && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${LEVELS[Math.min(60, Math.floor(level / 10) * 10)] ?? ''}${record.msg ?? ''}${details.length ? ` (${details.join(', ')})` : ''}`;
}
