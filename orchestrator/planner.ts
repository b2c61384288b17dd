/**
 * Splits a job into tasks: one per (frame, tile). Pure; ids are deterministic so that planning
 * twice (after a crash) names the same tasks and BullMQ deduplicates their replica slots.
 */
import { type Rect, tileGrid } from '../shared/tile.ts';

export interface PlannedTask {
  id: string;
  frame: number;
  tile: number;
  rect: Rect;
}

export const taskId = (jobId: string, frame: number, tile: number): string => `${jobId}.f${frame}.t${tile}`;
/** BullMQ job id of replica slot n of a task (ids may not contain ':'). */
export const slotId = (task: string, n: number): string => `${task}.r${n}`;

export function parseTaskId(id: string): { job: string; frame: number; tile: number } | undefined {
  const m = /^(j[0-9a-f]+)\.f(\d+)\.t(\d+)$/.exec(id);
  return m ? { job: m[1], frame: Number(m[2]), tile: Number(m[3]) } : undefined;
}

export function parseSlotId(id: string): { job: string; task: string; n: number } | undefined {
  const m = /^(.+)\.r(\d+)$/.exec(id);
  const task = m && parseTaskId(m[1]);
  return m && task ? { job: task.job, task: m[1], n: Number(m[2]) } : undefined;
}

export function planJob(jobId: string, frames: readonly number[], width: number, height: number, tileSize: number): PlannedTask[] {
  const grid = tileGrid(width, height, tileSize);
  return frames.flatMap((frame) => grid.map((rect, tile) => ({ id: taskId(jobId, frame, tile), frame, tile, rect })));
}

/**
 * The order a job's tasks are queued in: frame after frame (so frames complete in order), each
 * frame's tiles shuffled by `below(n)` (a uniform integer under n). Tiles queued in order would
 * let a worker tell a spot check — an already verified tile, behind the tiles it is being given —
 * by where it lies in the frame.
 */
export function dispatchOrder(tasks: readonly PlannedTask[], below: (n: number) => number): PlannedTask[] {
  const order = [...tasks];
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end < order.length && order[end].frame === order[start].frame) end++;
    for (let i = end - 1; i > start; i--) {
      const j = start + below(i - start + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    start = end;
  }
  return order;
}

/** Replicas each task starts with: quorum issues R at once; credibility starts with one and adds what the verdict needs. */
export const initialReplicas = (job: { verification: 'credibility' | 'quorum'; replicas: number }): number =>
  job.verification === 'quorum' ? job.replicas : 1;

/** The ids a log line about a replica slot carries: its job, task and the slot itself. */
export function slotLogIds(slot: string): { job?: string; task?: string; slot: string } {
  const parsed = parseSlotId(slot);
  return { job: parsed?.job, task: parsed?.task, slot };
}
