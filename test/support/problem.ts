/** Asserts an answer is an application/problem+json of the given status, and returns its body. */
import { expect } from 'vitest';

export async function problem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as { title: string; detail?: string; errors?: { path: string; message: string }[] };
}
