/**
 * A job's live view: its status and the tiles of the frame on screen, kept current by the
 * orchestrator's server-sent events (GET /api/jobs/:id/events). A (re)connect reloads the frame's
 * tiles, so nothing missed while disconnected stays stale.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { applyJobUpdate } from '../../shared/job-updates.ts';
import { JOB_EVENTS, type JobStatus, type TaskView } from '../../shared/protocol.ts';
import { api } from './api.ts';

/**
 * What a live view says when the orchestrator refused its stream (too many open, say): a browser
 * does not reconnect after a refusal, as it does after a dropped connection.
 */
export const LIVE_REFUSED = 'the live view was refused; reload the page';

export interface JobLive {
  status?: JobStatus;
  /** The frame on screen. */
  frame?: number;
  /** The shown frame's tiles by task id. */
  tiles: ReadonlyMap<string, TaskView>;
  connected: boolean;
  error?: string;
}

/** `chooseFrame` picks the frame on screen from the job's latest status. */
export function useJobLive(id: string, chooseFrame: (status: JobStatus) => number | undefined): JobLive {
  const [status, setStatus] = useState<JobStatus>();
  const frame = status && chooseFrame(status);
  const [tiles, setTiles] = useState<ReadonlyMap<string, TaskView>>(new Map());
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<string>();
  const frameRef = useRef(frame);
  frameRef.current = frame;
  // Tasks changed by events while a load is in flight: their event is newer than the load.
  const changedDuringLoad = useRef<Set<string>>();

  const load = useCallback(
    async (f: number) => {
      const changed = new Set<string>();
      changedDuringLoad.current = changed;
      const r = await api<{ frame: number; tasks: TaskView[] }>(`/api/jobs/${encodeURIComponent(id)}/tasks?frame=${f}`);
      if (frameRef.current !== f) return;
      if (changedDuringLoad.current === changed) changedDuringLoad.current = undefined;
      setTiles((prev) => new Map(r.tasks.map((t) => [t.task, changed.has(t.task) ? (prev.get(t.task) ?? t) : t])));
    },
    [id],
  );

  useEffect(() => {
    setTiles(new Map());
    if (frame !== undefined) load(frame).catch((e) => setError(String(e)));
  }, [frame, load]);

  useEffect(() => {
    const source = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
    let opened = false;
    source.onopen = () => {
      setConnected(true);
      setError(undefined);
      if (opened && frameRef.current !== undefined) load(frameRef.current).catch((e) => setError(String(e)));
      opened = true;
    };
    source.onerror = () => {
      setConnected(false);
      if (source.readyState === EventSource.CLOSED) setError(LIVE_REFUSED);
    };
    source.addEventListener(JOB_EVENTS.job, (e) => setStatus((prev) => applyJobUpdate(prev, JSON.parse((e as MessageEvent).data))));
    source.addEventListener(JOB_EVENTS.tiles, (e) => {
      const views = (JSON.parse((e as MessageEvent).data) as TaskView[]).filter((v) => v.frame === frameRef.current);
      if (views.length === 0) return;
      for (const v of views) changedDuringLoad.current?.add(v.task);
      setTiles((prev) => {
        const next = new Map(prev);
        for (const v of views) next.set(v.task, v);
        return next;
      });
    });
    return () => source.close();
  }, [id, load]);

  // Right after the view moves to another frame, `tiles` still holds the last frame's until the
  // new ones load: they must not be painted as this frame's.
  const shown = useMemo(() => new Map([...tiles].filter(([, t]) => t.frame === frame)), [tiles, frame]);
  return { status, frame, tiles: shown, connected, error };
}
