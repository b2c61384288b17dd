/**
 * `farm worker` on a terminal: one status line redrawn in place (a few times a second at most),
 * with the lines worth a person's attention (warnings, errors, what happened at start and stop)
 * printed above it. What the line says is worker/status-line.ts; this draws it and keeps the
 * farm's record of the worker (credibility, credits) fresh.
 */
import type { WriteStream } from 'node:tty';
import {
  type AgentEvent,
  applyEvent,
  clock,
  type FarmRecord,
  formatStatus,
  humanLogLine,
  initialStatus,
  withRecord,
} from '../worker/status-line.ts';

/** Redraws at most this often, however fast events come. */
const REDRAW_MS = 250;
/** Elapsed times and countdowns move on even when nothing happens. */
const TICK_MS = 1000;
/** The farm's record is asked for this often. */
const RECORD_MS = 5000;
/** A line printed again within this long is left out: a worker retrying every second would scroll the terminal away. */
const REPEAT_MS = 60_000;
const ERASE_LINE = '\r\x1b[2K';

export interface WorkerTerminal {
  event(e: AgentEvent): void;
  /** Prints a line above the status line. */
  say(line: string): void;
  /** A pino destination: each record that matters to a person becomes a line above the status line. */
  readonly logStream: { write(json: string): void };
  /** Stops redrawing and erases the status line. */
  close(): void;
}

export function workerTerminal(out: WriteStream, device: string, fetchRecord: () => Promise<FarmRecord>): WorkerTerminal {
  let status = initialStatus(device, Date.now());
  let drawnAt = 0;
  let drawn = '';
  let redraw: NodeJS.Timeout | undefined;
  let closed = false;
  const printed = new Map<string, number>();

  /** `again`: after a line printed above it, the status line is drawn even if it did not change. */
  const draw = (again = false) => {
    if (closed) return;
    drawnAt = Date.now();
    const line = formatStatus(status, drawnAt, out.columns || 80);
    if (line !== drawn || again) out.write(`${ERASE_LINE}${line}`);
    drawn = line;
  };
  const schedule = () => {
    if (redraw || closed) return;
    redraw = setTimeout(
      () => {
        redraw = undefined;
        draw();
      },
      Math.max(0, drawnAt + REDRAW_MS - Date.now()),
    );
    redraw.unref();
  };
  const say = (line: string) => {
    out.write(closed ? `${line}\n` : `${ERASE_LINE}${line}\n`);
    draw(true);
  };

  let fetching = false;
  const refresh = async () => {
    if (fetching || closed) return;
    fetching = true;
    try {
      status = withRecord(status, await fetchRecord());
      schedule();
    } catch {
      // Not registered yet, or the orchestrator is away: the line keeps what it last knew.
    } finally {
      fetching = false;
    }
  };
  const ticker = setInterval(schedule, TICK_MS).unref();
  const records = setInterval(refresh, RECORD_MS).unref();
  out.on('resize', schedule);
  draw();
  void refresh();

  return {
    event(e) {
      status = applyEvent(status, e, Date.now());
      // A finished upload changes what the farm says of the worker.
      if (e.kind === 'uploaded') void refresh();
      schedule();
    },
    say,
    logStream: {
      write(json) {
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(json);
        } catch {
          return say(json.trimEnd());
        }
        const text = humanLogLine(record);
        if (text === undefined) return;
        const now = Date.now();
        if (now - (printed.get(text) ?? -Infinity) < REPEAT_MS) return;
        printed.set(text, now);
        if (printed.size > 100) printed.delete(printed.keys().next().value as string);
        say(`${clock(typeof record.time === 'number' ? record.time : now)} ${text}`);
      },
    },
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(redraw);
      clearInterval(ticker);
      clearInterval(records);
      out.off('resize', schedule);
      out.write(ERASE_LINE);
    },
  };
}
