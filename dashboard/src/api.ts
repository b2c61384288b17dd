/**
 * The orchestrator's HTTP API from the browser. Requests ride on the session cookie (set by
 * POST /api/session), so <img> tags and EventSource work too. Failures arrive as
 * application/problem+json and become ApiError, whose field errors the forms show by path.
 */
import type { Problem } from '../../shared/problem.ts';

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
    this.name = 'ApiError';
  }

  get status(): number {
    return this.problem.status;
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) throw await failure(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** A refused response's problem, as an error. */
async function failure(res: Response): Promise<ApiError> {
  const problem: Problem = await res.json().catch(() => ({ type: 'about:blank', title: res.statusText, status: res.status }));
  return new ApiError({ ...problem, status: res.status });
}

/** A tile's raw RGBA pixels, ready for putImageData (exact: no decoding, no colour management). */
export async function pixels(path: string, width: number, height: number): Promise<ImageData> {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw await failure(res);
  return new ImageData(new Uint8ClampedArray(await res.arrayBuffer()), width, height);
}
