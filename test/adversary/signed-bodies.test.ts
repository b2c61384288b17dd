/**
 * A worker's body is read only once its signature checks out: the signature covers the body's
 * hash, sent in a header, so a stranger naming a public worker id is refused before a byte of its
 * body is read; the body must then match that hash; and the bodies one address may have read at
 * once are bounded, signed or not.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyDigest, SIGNATURE_HEADERS, signRequest } from '../../shared/signing.ts';
import { type ApiFarm, startApiFarm, type TestClient } from '../support/orchestrator.ts';
import { problem } from '../support/problem.ts';

const MIB = 1024 * 1024;

/** Headers that sign `body` as `w` would (the body's hash included); `now` keeps signatures apart. */
function signedHeaders(w: TestClient, method: string, path: string, body: Uint8Array, now = Date.now()): Record<string, string> {
  const { timestamp, signature, digest } = signRequest(w.identity.key, w.farmId, method, path, body, now);
  return {
    [SIGNATURE_HEADERS.worker]: w.id,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.signature]: signature,
    [SIGNATURE_HEADERS.body]: digest,
  };
}

/**
 * Sends the headers and the first 64 KiB of a `length`-byte body, then nothing: `answer` is the
 * status, should the orchestrator answer before the rest arrives (it never will).
 */
function stalledUpload(url: string, headers: Record<string, string>, length: number): { answer: Promise<number>; abort(): void } {
  const req = request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(length) } });
  const answer = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    // Once answered, the orchestrator closes the connection under the rest of the body.
    req.on('error', reject);
  });
  req.write(Buffer.alloc(64 * 1024));
  return {
    answer,
    abort: () => {
      // Nobody waits for an answer to an upload given up.
      answer.catch(() => {});
      req.destroy();
    },
  };
}

const within = <T>(ms: number, p: Promise<T>): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);

describe('a body sent under a public worker id with a forged signature', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm();
  });
  afterAll(() => api.stop());

  it('is refused before it is read, many at once', async () => {
    const victim = await api.worker('victim', { stake: 0 });
    const body = Buffer.alloc(16 * MIB, 1);
    const forged = {
      [SIGNATURE_HEADERS.worker]: victim.id,
      [SIGNATURE_HEADERS.timestamp]: String(Date.now()),
      [SIGNATURE_HEADERS.signature]: `${'A'.repeat(85)}A==`,
      [SIGNATURE_HEADERS.body]: bodyDigest(body),
    };
    const uploads = Array.from({ length: 8 }, () => stalledUpload(`${api.farm.url}/api/work/results`, forged, body.length));
    // Each is answered with only 64 KiB of its 16 MiB sent: nothing waited for the rest.
    expect(await within(5000, Promise.all(uploads.map((u) => u.answer)))).toEqual(Array(8).fill(401));
    for (const u of uploads) u.abort();
    // The victim is untouched.
    await victim.client.heartbeat([]);
  });

  it('is refused when its body is not the one whose hash was signed', async () => {
    const w = await api.worker('tampered', { stake: 0 });
    const path = '/api/work/heartbeat';
    const headers = signedHeaders(w, 'POST', path, new TextEncoder().encode('{"replicas":[]}'));
    const swapped = await fetch(`${api.farm.url}${path}`, { method: 'POST', body: '{"replicas":["x"]}', headers });
    expect((await problem(swapped, 401)).title).toBe('Bad signature');
    // A body sent without its hash is checked as an empty one's signature, before it is read.
    const bare = signedHeaders(w, 'POST', path, new TextEncoder().encode('{"replicas":[]}'));
    delete bare[SIGNATURE_HEADERS.body];
    expect(
      (await problem(await fetch(`${api.farm.url}${path}`, { method: 'POST', body: '{"replicas":[]}', headers: bare }), 401)).title,
    ).toBe('Bad signature');
  });
});

describe('signed bodies from one address', () => {
  let api: ApiFarm;
  beforeAll(async () => {
    api = await startApiFarm({ workerBodiesPerAddress: 1 });
  });
  afterAll(() => api.stop());

  it('are read a bounded number at once: past it, 429 with Retry-After until one is done', async () => {
    const w = await api.worker('flood', { stake: 0 });
    const body = new Uint8Array(MIB);
    const stall = () => {
      const upload = stalledUpload(`${api.farm.url}/api/work/results`, signedHeaders(w, 'PUT', '/api/work/results', body), body.length);
      const state = { upload, answered: false };
      upload.answer.then(
        () => (state.answered = true),
        () => (state.answered = true),
      );
      return state;
    };
    let slow = stall();
    let at = Date.now();
    const heartbeat = () => {
      const beat = new TextEncoder().encode('{"replicas":[]}');
      return fetch(`${api.farm.url}/api/work/heartbeat`, {
        method: 'POST',
        body: beat,
        headers: signedHeaders(w, 'POST', '/api/work/heartbeat', beat, at++),
      });
    };
    let refused: Response | undefined;
    await expect
      .poll(async () => {
        // The upload reached the bound while a heartbeat's body was being read: it was the one
        // refused (as it should be). Stall another.
        if (slow.answered) slow = stall();
        refused = await heartbeat();
        return refused.status;
      })
      .toBe(429);
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
    slow.upload.abort();
    await expect.poll(async () => (await heartbeat()).status).toBe(200);
  });
});
