/**
 * Error reporting shared by the API and the CLI: zod issues become `path: message` pairs whose
 * path reads like the JSON it points into (`materials[2].ior`), and HTTP errors use RFC 9457
 * `application/problem+json` bodies built from them.
 */
import type { z } from 'zod';

export interface FieldIssue {
  path: string;
  message: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Problems listed in one answer; the rest are counted (a huge bad input must not earn a huger reply). */
export const MAX_ISSUES = 100;

export function formatIssues(error: z.ZodError): FieldIssue[] {
  const listed = error.issues.slice(0, MAX_ISSUES).map((i) => ({ path: formatPath(i.path), message: i.message }));
  const rest = error.issues.length - listed.length;
  return rest > 0 ? [...listed, { path: '(root)', message: `${rest} more problems not listed` }] : listed;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldIssue[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
