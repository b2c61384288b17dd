/** A requester's HTTP client for the job API (bearer token). */
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { FarmLimits } from '../shared/farm-limits.ts';
import { applyJobUpdate } from '../shared/job-updates.ts';
import { JOB_EVENTS, type JobStatus } from '../shared/protocol.ts';

/** The orchestrator answered with an error status. */
export class RequestFailed extends Error {
  override name = 'RequestFailed';
  constructor(
    readonly status: number,
    message: string,
    /** Seconds the orchestrator asked to wait before trying again (Retry-After), if it did. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** Tries of an asset upload refused for the moment: the orchestrator reads a few at once, and a requester's MiB a minute. */
const UPLOAD_TRIES = 10;

export class RequesterClient {
  /** A client for `--orchestrator`, authenticated by `--token` or FARM_TOKEN. */
  static fromFlags(flags: { orchestrator: string; token?: string }): RequesterClient {
    const token = flags.token ?? process.env.FARM_TOKEN;
    if (!token) throw new Error('set FARM_TOKEN (the orchestrator prints its operator token) or pass --token');
    return new RequesterClient(flags.orchestrator.replace(/\/$/, ''), token);
  }

  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async submit(body: unknown): Promise<{ id: string; tilesTotal: number; frames: number[] }> {
    return (await this.call('POST', '/api/jobs', body)).json();
  }

  /**
   * Uploads the assets the farm does not hold yet (it is asked first, so each is sent once
   * however many jobs use it); returns what was sent and what was already there.
   */
  async uploadAssets(assets: ReadonlyMap<string, Uint8Array>): Promise<{ sent: number; bytes: number; storedBytes: number }> {
    let [sent, bytes, storedBytes] = [0, 0, 0];
    for (const [cid, data] of assets) {
      const stored = await this.call('GET', `/api/assets/${cid}`).then(
        () => true,
        (e: unknown) => {
          if (e instanceof RequestFailed && e.status === 404) return false;
          throw e;
        },
      );
      if (stored) {
        storedBytes += data.length;
        continue;
      }
      await this.upload(cid, data);
      sent++;
      bytes += data.length;
    }
    return { sent, bytes, storedBytes };
  }

  /** An asset upload, sent again after Retry-After while it is refused for the moment (429, 503). */
  private async upload(cid: string, data: Uint8Array): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return void (await this.call('PUT', `/api/assets/${cid}`, data));
      } catch (e) {
        if (!(e instanceof RequestFailed) || ![429, 503].includes(e.status) || attempt >= UPLOAD_TRIES) throw e;
        await new Promise((r) => setTimeout(r, Math.min(60, e.retryAfter ?? 1) * 1000));
      }
    }
  }

  /** The farm's scene limits (GET /api/limits). */
  async limits(): Promise<FarmLimits> {
    return FarmLimits.parse(await (await this.call('GET', '/api/limits')).json());
  }

  async status(id: string): Promise<JobStatus> {
    return (await this.call('GET', `/api/jobs/${id}`)).json();
  }

  /** The job's status on connect and at every change (server-sent events) until the stream ends. */
  async *statusStream(id: string): AsyncGenerator<JobStatus> {
    // When the caller stops listening, the request is aborted: the connection closes at once and
    // the orchestrator drops its subscription to the job.
    const connection = new AbortController();
    try {
      const res = await this.call('GET', `/api/jobs/${id}/events`, undefined, connection.signal);
      if (!res.body) return;
      const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      let status: JobStatus | undefined;
      for (let next = await events.read(); !next.done; next = await events.read()) {
        if (next.value.event !== JOB_EVENTS.job) continue;
        status = applyJobUpdate(status, JSON.parse(next.value.data) as JobStatus);
        yield status;
      }
    } finally {
      connection.abort();
    }
  }

  async download(path: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.call('GET', path)).arrayBuffer());
  }

  /** A request with a JSON body, or raw bytes (an asset). */
  async call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    let payload: BodyInit | undefined;
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/octet-stream';
      payload = new Blob([new Uint8Array(body)]);
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${this.base}${path}`, { method, signal, headers, body: payload });
    if (res.status >= 400) {
      const p = (await res.json().catch(() => ({}))) as { title?: string; detail?: string };
      const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
      throw new RequestFailed(
        res.status,
        `${method} ${path}: ${res.status} ${p.title ?? ''}${p.detail ? `: ${p.detail}` : ''}`,
        Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
    }
    return res;
  }
}
