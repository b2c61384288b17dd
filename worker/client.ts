/** The worker's HTTP client: every request is signed with the worker's key. */
import { type Assignment, Assignment as AssignmentSchema, RESULT_CID_HEADER } from '../shared/protocol.ts';
import { SIGNATURE_HEADERS, signRequest } from '../shared/signing.ts';
import type { Identity } from './identity.ts';

export class OrchestratorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

export class WorkerClient {
  constructor(
    private readonly base: string,
    private readonly identity: Identity,
  ) {}

  /** With the operator's token the orchestrator registers this worker as trusted (its own). */
  async register(name: string, deviceClass: string, operatorToken?: string): Promise<{ id: string; heartbeatMs: number }> {
    const auth: Record<string, string> = operatorToken ? { authorization: `Bearer ${operatorToken}` } : {};
    const res = await this.request(
      'POST',
      '/api/workers',
      JSON.stringify({ publicKey: this.identity.publicKeyDer, name, deviceClass }),
      auth,
    );
    return (await res.json()) as { id: string; heartbeatMs: number };
  }

  /** Keeps the worker online and renews its leases on the replicas it is still working on. */
  async heartbeat(replicas: readonly string[]): Promise<void> {
    await this.request('POST', '/api/work/heartbeat', JSON.stringify({ replicas }));
  }

  /** Long-polls for the next replica; undefined when there is none for now. */
  async next(signal?: AbortSignal): Promise<Assignment | undefined> {
    const res = await this.request('POST', '/api/work/next', undefined, {}, signal);
    if (res.status === 204) return undefined;
    return AssignmentSchema.parse(await res.json());
  }

  async scene(cid: string): Promise<unknown> {
    return (await this.request('GET', `/api/work/scenes/${cid}`)).json();
  }

  async upload(replica: string, cid: string, rgba: Uint8Array): Promise<string> {
    const res = await this.request('PUT', `/api/work/${replica}/result`, rgba, {
      [RESULT_CID_HEADER]: cid,
      'content-type': 'application/octet-stream',
    });
    return ((await res.json()) as { status: string }).status;
  }

  /** Moves credits from the worker's balance into its stake. */
  async stake(amount: number): Promise<{ balance: number; stake: number }> {
    return (await this.request('POST', '/api/work/stake', JSON.stringify({ amount }))).json() as Promise<{
      balance: number;
      stake: number;
    }>;
  }

  async release(replica: string): Promise<void> {
    await this.request('POST', `/api/work/${replica}/release`);
  }

  private async request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : (body ?? new Uint8Array());
    const { timestamp, signature } = signRequest(this.identity.key, method, path, bytes);
    const res = await fetch(`${this.base}${path}`, {
      method,
      body: body === undefined ? undefined : Buffer.from(bytes),
      signal,
      headers: {
        'content-type': 'application/json',
        ...headers,
        [SIGNATURE_HEADERS.worker]: this.identity.id,
        [SIGNATURE_HEADERS.timestamp]: timestamp,
        [SIGNATURE_HEADERS.signature]: signature,
      },
    });
    if (res.status >= 400) {
      const problem = (await res.json().catch(() => ({}))) as { detail?: string; title?: string };
      throw new OrchestratorError(res.status, `${method} ${path}: ${res.status} ${problem.detail ?? problem.title ?? res.statusText}`);
    }
    return res;
  }
}
