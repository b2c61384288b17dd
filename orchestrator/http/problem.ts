/** HTTP errors as RFC 9457 problem details, naming the failing fields. */

import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { ZodError, z } from 'zod';
import { type FieldIssue, formatIssues, PROBLEM_CONTENT_TYPE, type Problem } from '../../shared/problem.ts';
import { SceneError } from '../../shared/scene.ts';
import { isOutOfSpace, StorageFull } from '../storage.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldIssue[],
  ) {
    super(detail ?? title);
    this.name = this.constructor.name;
  }
}

export function sendProblem(res: Response, p: Problem): void {
  // Refused before its body was read (unauthenticated, rate-limited, too large): close the
  // connection after the answer rather than read and discard what the client still sends.
  if (!res.req.complete) res.set('Connection', 'close');
  res.status(p.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(p));
}

const slug = (title: string) => `https://farm.invalid/problems/${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;

/** A path parameter checked against its shape: a malformed id is a 400 naming the parameter. */
export function param<T>(req: Request, name: string, schema: z.ZodType<T>): T {
  return z.object({ [name]: schema }).parse({ [name]: req.params[name] })[name] as T;
}

/** A raw JSON body (an empty one is `{}`); malformed JSON is a 400. */
export function parseJson(bytes: Uint8Array): unknown {
  const text = new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text || '{}');
  } catch (e) {
    throw new HttpError(400, 'Malformed JSON', (e as Error).message);
  }
}

/** 400 for a scene beyond this farm's own limits (shared/farm-limits.ts), naming each field and setting. */
export function overFarmLimits(issues: FieldIssue[]): HttpError {
  return new HttpError(400, 'Over the farm limits', issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
}

/** Prefixes issue paths with the request field they came from (e.g. `scene.`). */
export function nested(prefix: string, issues: FieldIssue[]): FieldIssue[] {
  return issues.map((i) => ({ ...i, path: i.path === '(root)' ? prefix : `${prefix}.${i.path}` }));
}

/** 400 listing each failing field. */
function invalid(res: Response, title: string, errors: FieldIssue[]): void {
  sendProblem(res, { type: slug(title), title, status: 400, detail: errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors });
}

export const problemHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (err instanceof HttpError) {
    sendProblem(res, { type: slug(err.title), title: err.title, status: err.status, detail: err.detail, errors: err.errors });
    return;
  }
  if (err instanceof ZodError) {
    invalid(res, 'Invalid request', formatIssues(err));
    return;
  }
  if (err instanceof SceneError) {
    invalid(res, 'Invalid scene', nested('scene', err.issues));
    return;
  }
  if (err instanceof StorageFull || isOutOfSpace(err)) {
    req.log?.warn({ err: err.message }, 'storage full');
    sendProblem(res, { type: slug('insufficient storage'), title: 'Insufficient storage', status: 507, detail: err.message });
    return;
  }
  const status = typeof err?.status === 'number' ? err.status : 500;
  if (err?.type === 'entity.too.large') {
    sendProblem(res, {
      type: slug('payload too large'),
      title: 'Payload too large',
      status: 413,
      detail: `request body exceeds ${err.limit} bytes`,
    });
    return;
  }
  if (err?.type === 'encoding.unsupported') {
    sendProblem(res, {
      type: slug('unsupported content encoding'),
      title: 'Unsupported content encoding',
      status: 415,
      detail: `bodies are read as sent: send this one without Content-Encoding (it has ${err.encoding})`,
    });
    return;
  }
  if (err?.type === 'entity.parse.failed') {
    sendProblem(res, { type: slug('malformed json'), title: 'Malformed JSON', status: 400, detail: err.message });
    return;
  }
  if (status >= 500) req.log?.error({ err }, 'request failed');
  // A library's error, by its status's name; its message only where it is meant for the client: a
  // system call's (a static file missing) had told anyone where the farm is installed.
  const told = status < 500 && typeof err?.syscall !== 'string';
  sendProblem(res, {
    type: slug('error'),
    title: status >= 500 ? 'Internal error' : (STATUS_CODES[status] ?? 'Error'),
    status,
    detail: told ? err?.message : undefined,
  });
};
