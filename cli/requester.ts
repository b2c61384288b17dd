/** A requester's HTTP client for the job API (bearer token). */
import type { JobStatus } from '../shared/protocol.ts';

export class RequesterClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async submit(body: unknown): Promise<{ id: string; tilesTotal: number; frames: number[] }> {
    return (await this.call('POST', '/api/jobs', body)).json();
  }

  async status(id: string): Promise<JobStatus> {
    return (await this.call('GET', `/api/jobs/${id}`)).json();
  }

  async download(path: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.call('GET', path)).arrayBuffer());
  }

  async call(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 400) {
      const p = (await res.json().catch(() => ({}))) as { title?: string; detail?: string };
      throw new Error(`${method} ${path}: ${res.status} ${p.title ?? ''}${p.detail ? `: ${p.detail}` : ''}`);
    }
    return res;
  }
}
