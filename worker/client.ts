/** The worker's HTTP client: every request is signed with the worker's key. */

import { MIB } from '../shared/bytes.ts';
import type { Rendered } from '../shared/image.ts';
import type { ForwardOrderView, OfferRequest } from '../shared/market.ts';
import {
  type Assignment,
  Assignment as AssignmentSchema,
  type BatchRequest,
  BatchResults,
  Batch as BatchSchema,
  type Calibrated,
  type CalibrationSpec,
  FarmInfo,
  MAX_ERROR_LENGTH,
  RESULT_CID_HEADER,
  RESULT_RAYS_HEADER,
  type Registered,
  Registered as RegisteredSchema,
  type ReleaseRequest,
  WorkerView,
} from '../shared/protocol.ts';
import { type BatchedResult, encodeResultBatch } from '../shared/result-batch.ts';
import { safeJson } from '../shared/safe-json.ts';
import { LIMITS } from '../shared/scene.ts';
import { SIGNATURE_HEADERS, SIGNATURE_WINDOW_MS, STALE_SIGNATURE, signRequest } from '../shared/signing.ts';
import { BlobAssembly, CAR_CONTENT_TYPE, UnverifiedContent } from '../shared/unixfs.ts';
import type { Identity } from './identity.ts';

/** Largest scene or asset a worker takes in (a farm's FARM_MAX_ASSET_BYTES is this or lower). */
export const MAX_FETCH_BYTES = LIMITS.maxAssetBytes;
/** Fetches of one blob, the first and those that take it up where a cut-off one stopped … */
const MAX_FETCH_TRIES = 16;
/** … of which this many in a row may bring nothing (cut off before a whole block came). */
const MAX_STALLED_TRIES = 2;
/** The most of an error's answer (a problem: a few hundred bytes) that is read. */
const PROBLEM_MAX_BYTES = 64 * 1024;

/** An orchestrator's base URL, or an error naming what was given: a worker must not wait on a typo. */
export function orchestratorUrl(given: string): string {
  let url: URL | undefined;
  try {
    url = new URL(given);
  } catch {}
  if (!url || !/^https?:$/.test(url.protocol) || !url.hostname)
    throw new Error(`"${given}" is not an orchestrator URL: expected http://host:port or https://host`);
  return given.replace(/\/$/, '');
}

export class OrchestratorError extends Error {
  constructor(
    readonly status: number,
    /** The problem's title, e.g. 'Stake required'. */
    readonly title: string,
    message: string,
  ) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** The title of a stale signature made by a clock too far off the orchestrator's: trying again cannot help. */
export const CLOCK_SKEW = 'Clock skew';

/**
 * How far the orchestrator's clock runs ahead of this machine's (ms), from the `Date` header of
 * an answer to a signed request it accepted (to the second, so within two seconds counts as none):
 * a replica's deadline is the orchestrator's time. An offset past the signature window, or an
 * answer a cache kept (`Age`), is no orchestrator's clock (a proxy's page): none.
 */
export function clockOffset(orchestratorDate: string | null, now: number, age: string | null = null): number {
  const offset = Date.parse(orchestratorDate ?? '') - now;
  return Number.isFinite(offset) && age === null && Math.abs(offset) > 2000 && Math.abs(offset) <= SIGNATURE_WINDOW_MS ? offset : 0;
}

/**
 * A stale signature's cause. The orchestrator's `Date` header says when it judged the request: a
 * clock that agrees with it signed a request that waited past its window in queues (an
 * orchestrator under a flood), which goes again freshly signed; a clock off by more than half the
 * window never gets through, and the person running the worker must hear that, not a retry. Pure.
 */
export function staleSignature(message: string, orchestratorDate: string | null, now: number): OrchestratorError {
  const skewMs = now - Date.parse(orchestratorDate ?? '');
  if (!(Math.abs(skewMs) > SIGNATURE_WINDOW_MS / 2)) return new OrchestratorError(401, STALE_SIGNATURE, message);
  const seconds = Math.round(Math.abs(skewMs) / 1000).toLocaleString('en');
  return new OrchestratorError(
    401,
    CLOCK_SKEW,
    `${message}: this machine's clock is ${seconds} s ${skewMs > 0 ? 'ahead of' : 'behind'} the orchestrator's; set it (NTP)`,
  );
}

export interface Account {
  balance: number;
  stake: number;
  locked: number;
  unbonding: number;
}

/** A farm's orchestrators in the order the i-th of several workers tries them: each starts with a different one. */
export const startingWith = (urls: readonly string[], i: number): string[] => [
  ...urls.slice(i % urls.length),
  ...urls.slice(0, i % urls.length),
];

export class WorkerClient {
  private readonly bases: readonly string[];
  /** The orchestrator it talks to now: the next one after a connection fails. */
  private current = 0;
  /** The blob a fetch gave up on part-way, with the blocks it checked: the next fetch of it goes on from there. */
  private partial: BlobAssembly | undefined;
  /** The farm's id, which its signatures cover: asked once (every orchestrator of a farm answers the same). */
  private farmId: Promise<string> | undefined;

  /** `orchestrators`: one URL, or several orchestrators of one farm to fail over between. */
  constructor(
    orchestrators: string | readonly string[],
    private readonly identity: Identity,
  ) {
    this.bases = (typeof orchestrators === 'string' ? [orchestrators] : orchestrators).map(orchestratorUrl);
    if (this.bases.length === 0) throw new Error('no orchestrator URL');
  }

  /**
   * With the operator's token the orchestrator registers this worker as trusted (its own).
   * `device` only describes it: the worker's class is measured by calibration.
   */
  /** `ask`: the least it renders for, in credits per RU (none: it offers nothing on the market). */
  async register(name: string, device: string, operatorToken?: string, ask?: number): Promise<Registered> {
    const auth: Record<string, string> = operatorToken ? { authorization: `Bearer ${operatorToken}` } : {};
    const res = await this.request(
      'POST',
      '/api/workers',
      JSON.stringify({ publicKey: this.identity.publicKeyDer, name, device, ask }),
      auth,
    );
    return RegisteredSchema.parse(await res.json());
  }

  /** Uploads the calibration tiles' pixels, in the order of the spec, with their CIDs. */
  async calibrate(cids: readonly string[], tiles: readonly Rendered[]): Promise<Calibrated> {
    const body = new Uint8Array(tiles.reduce((n, t) => n + t.rgba.length, 0));
    let offset = 0;
    for (const { rgba } of tiles) {
      body.set(rgba, offset);
      offset += rgba.length;
    }
    const res = await this.request('PUT', '/api/work/calibration', body, {
      [RESULT_CID_HEADER]: cids.join(','),
      [RESULT_RAYS_HEADER]: tiles.map((t) => t.rays).join(','),
      'content-type': 'application/octet-stream',
    });
    return (await res.json()) as Calibrated;
  }

  /** Keeps the worker online and renews its leases on the replicas it is still working on. */
  async heartbeat(replicas: readonly string[]): Promise<void> {
    await this.request('POST', '/api/work/heartbeat', JSON.stringify({ replicas }));
  }

  /** Long-polls for the next replica (its deadline on this machine's clock); undefined when there is none for now. */
  async next(signal?: AbortSignal): Promise<Assignment | undefined> {
    const res = await this.request('POST', '/api/work/next', undefined, {}, signal);
    if (res.status === 204) return undefined;
    return onThisClock(res, [AssignmentSchema.parse(await res.json())])[0];
  }

  /** Long-polls for up to `max` replicas (its free capacity, their deadlines on this machine's clock); empty when there are none for now. */
  async nextBatch(max: number, signal?: AbortSignal): Promise<Assignment[]> {
    const res = await this.request('POST', '/api/work/batch', JSON.stringify({ max } satisfies BatchRequest), {}, signal);
    if (res.status === 204) return [];
    return onThisClock(res, BatchSchema.parse(await res.json()).replicas);
  }

  /**
   * Uploads several results in one signed request; says what became of each, and brings up to
   * `next` replicas more where there is work now (ResultsQuery; their deadlines on this machine's clock).
   */
  async uploadBatch(results: readonly BatchedResult[], next = 0): Promise<BatchResults> {
    const path = next > 0 ? `/api/work/results?next=${next}` : '/api/work/results';
    const res = await this.request('PUT', path, encodeResultBatch(results), { 'content-type': 'application/octet-stream' });
    const answer = BatchResults.parse(await res.json());
    if (answer.replicas) onThisClock(res, answer.replicas);
    return answer;
  }

  /** The known-answer tiles to render before any work. */
  async calibration(): Promise<CalibrationSpec> {
    return (await (await this.request('GET', '/api/work/calibration')).json()) as CalibrationSpec;
  }

  /** A scene (its manifest), from the gateway. */
  async scene(cid: string): Promise<unknown> {
    return JSON.parse(new TextDecoder().decode(await this.blob(cid)));
  }

  /**
   * A scene's or asset's bytes, from the gateway as CARs whose every block is checked against the
   * CID as it streams in. A fetch cut off part-way (a gateway lets go of readers too slow for it
   * when its memory bound is full) is taken up where it stopped: the blocks that came are kept and
   * the rest is asked for (`entity-bytes=<from>:*`), as long as each try brings more of the blob,
   * up to MAX_FETCH_TRIES tries that read at most what one CAR of the largest blob can be in all.
   */
  async blob(cid: string): Promise<Uint8Array> {
    // What an earlier call of this blob checked before it gave up (a refusal to wait out, a
    // gateway's let-go) is taken up where it stopped.
    let blob = this.partial?.cid === cid ? this.partial : undefined;
    // The CAR's blocks may carry twice the blob (BlobAssembly), plus their CIDs: an orchestrator's
    // answers past that are not read into memory, whatever they say their length is.
    const budget = { left: 2 * MAX_FETCH_BYTES + MIB };
    for (let tries = 1, stalled = 0; ; tries++) {
      const from = blob?.from() ?? 0;
      const query = from > 0 ? `?entity-bytes=${from}:*` : '';
      const res = await this.request('GET', `/ipfs/${cid}${query}`, undefined, { accept: CAR_CONTENT_TYPE });
      // Made once the gateway answered: what is not a CID is its to refuse (400), not this worker's.
      blob ??= new BlobAssembly(cid, MAX_FETCH_BYTES);
      this.partial = blob;
      const body = new CutOffWatch(res);
      try {
        await blob.add(body.read(budget, `the CARs for ${cid}`));
        const bytes = await blob.bytes();
        this.partial = undefined;
        return bytes;
      } catch (e) {
        // Cut off after its last block: it is whole.
        const whole = body.cutOff ? await blob.bytes().catch(() => undefined) : undefined;
        if (whole) {
          this.partial = undefined;
          return whole;
        }
        stalled = blob.from() > from ? 0 : stalled + 1;
        if (!body.cutOff || tries >= MAX_FETCH_TRIES || stalled >= MAX_STALLED_TRIES) {
          if (!body.cutOff) this.partial = undefined;
          throw e;
        }
      }
    }
  }

  async upload(replica: string, cid: string, result: Rendered): Promise<string> {
    const res = await this.request('PUT', `/api/work/${replica}/result`, result.rgba, {
      [RESULT_CID_HEADER]: cid,
      [RESULT_RAYS_HEADER]: String(result.rays),
      'content-type': 'application/octet-stream',
    });
    return ((await res.json()) as { status: string }).status;
  }

  /** The farm's public record of this worker (GET /api/workers/:id): credibility, credits, counts. */
  async record(): Promise<WorkerView> {
    return WorkerView.parse(await (await this.request('GET', `/api/workers/${this.identity.id}`)).json());
  }

  /** Moves credits from the worker's balance into its stake. */
  async stake(amount: number): Promise<Account> {
    return (await this.request('POST', '/api/work/stake', JSON.stringify({ amount }))).json() as Promise<Account>;
  }

  /** Asks stake back: paid out after the farm's unbonding delay (and slashable until then). */
  async unstake(amount: number): Promise<Account> {
    return (await this.request('POST', '/api/work/unstake', JSON.stringify({ amount }))).json() as Promise<Account>;
  }

  /** Offers RU in the forward window starting at `start` (ms), at `minPrice` credits per RU at least, locking collateral. */
  async offer(request: OfferRequest): Promise<ForwardOrderView> {
    return (await this.request('POST', '/api/work/offers', JSON.stringify(request))).json() as Promise<ForwardOrderView>;
  }

  /** Withdraws one of its offers while its window takes orders: its collateral comes back. */
  async withdrawOffer(id: string): Promise<ForwardOrderView> {
    return (await this.request('POST', `/api/work/offers/${encodeURIComponent(id)}/withdraw`)).json() as Promise<ForwardOrderView>;
  }

  /** Hands a replica back, or, with `error`, gives it up because rendering it failed. */
  async release(replica: string, error?: string): Promise<void> {
    const body: ReleaseRequest | undefined =
      error === undefined ? undefined : { error: error.slice(0, MAX_ERROR_LENGTH) || 'unknown error' };
    await this.request('POST', `/api/work/${replica}/release`, body && JSON.stringify(body));
  }

  private async request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : (body ?? new Uint8Array());
    const res = await this.send(method, path, bytes, body !== undefined, headers, signal);
    if (res.status >= 400) {
      // A problem is a few hundred bytes: a longer answer is not read whole.
      const text = await readAtMost(res, PROBLEM_MAX_BYTES).then(
        (b) => new TextDecoder().decode(b),
        () => '',
      );
      const problem = (safeJson(text) ?? {}) as { detail?: string; title?: string };
      const message = `${method} ${path}: ${res.status} ${problem.detail ?? problem.title ?? res.statusText}`;
      if (res.status === 401 && problem.title === STALE_SIGNATURE) throw staleSignature(message, res.headers.get('date'), Date.now());
      throw new OrchestratorError(res.status, problem.title ?? '', message);
    }
    return res;
  }

  private async farm(): Promise<string> {
    this.farmId ??= fetch(`${this.bases[this.current]}/api/farm`).then(async (r) => FarmInfo.parse(await r.json()).id);
    try {
      return await this.farmId;
    } catch (e) {
      // Asked again of the next orchestrator (send fails over on the error).
      this.farmId = undefined;
      throw e;
    }
  }

  /**
   * Sends the request to the current orchestrator, and on to the next ones while connections
   * fail (an orchestrator down or killed mid-request): each attempt is signed afresh, as a
   * signature is accepted once only. What an orchestrator answers, errors included, is final.
   */
  private async send(
    method: string,
    path: string,
    bytes: Uint8Array,
    hasBody: boolean,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { timestamp, signature, digest } = signRequest(this.identity.key, await this.farm(), method, path, bytes);
        return await fetch(`${this.bases[this.current]}${path}`, {
          method,
          body: hasBody ? Buffer.from(bytes) : undefined,
          signal,
          headers: {
            'content-type': 'application/json',
            ...headers,
            [SIGNATURE_HEADERS.worker]: this.identity.id,
            [SIGNATURE_HEADERS.timestamp]: timestamp,
            [SIGNATURE_HEADERS.signature]: signature,
            [SIGNATURE_HEADERS.body]: digest,
          },
        });
      } catch (e) {
        // One try more than there are orchestrators: a kept-alive connection the server had just
        // closed fails although the orchestrator is up (seen under load), so a lone one is tried twice.
        if (signal?.aborted || attempt > this.bases.length) throw e;
        this.current = (this.current + 1) % this.bases.length;
      }
    }
  }
}

/** Moves the deadlines of the replicas an answer brought onto this machine's clock, by the offset that answer shows. */
function onThisClock(res: Response, replicas: Assignment[]): Assignment[] {
  const offset = clockOffset(res.headers.get('date'), Date.now(), res.headers.get('age'));
  for (const a of replicas) a.deadline -= offset;
  return replicas;
}

/** A response's body, read as it comes; says whether the connection failed part-way. */
class CutOffWatch {
  /** The body stopped short: the connection closed or failed (not a refusal of what it said). */
  cutOff = false;

  constructor(private readonly res: Response) {}

  /** The body's parts, refused (UnverifiedContent) as soon as they are over what is `left` (which they use up). */
  async *read(budget: { left: number }, what: string): AsyncGenerator<Uint8Array> {
    const refuse = () => new UnverifiedContent(`${what} are over the bytes they may take`);
    if (Number(this.res.headers.get('content-length') ?? 0) > budget.left) {
      await this.res.body?.cancel();
      throw refuse();
    }
    const parts = this.res.body?.[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array> | undefined;
      try {
        next = await parts?.next();
      } catch (e) {
        this.cutOff = true;
        throw e;
      }
      if (!next || next.done) return;
      budget.left -= next.value.byteLength;
      if (budget.left < 0) throw refuse();
      yield next.value;
    }
  }
}

/** A response's body, refused (UnverifiedContent) as soon as it is over `max` bytes. */
async function readAtMost(res: Response, max: number, what = 'the answer'): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of new CutOffWatch(res).read({ left: max }, what)) parts.push(part);
  return Buffer.concat(parts);
}
