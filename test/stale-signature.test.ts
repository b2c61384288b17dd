/**
 * A stale signature has two causes that a worker must tell apart: a request that waited past its
 * 300-s window in an overloaded orchestrator's queues (a swarm of 10,000 saw registrations wait
 * that long; the worker gave up for good on a 401) goes again freshly signed; a clock that far
 * off the orchestrator's never gets through, and the worker says so and stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADERS, SIGNATURE_WINDOW_MS, STALE_SIGNATURE, signRequest } from '../shared/signing.ts';
import { isTransient } from '../worker/agent.ts';
import { CLOCK_SKEW, clockOffset, OrchestratorError, staleSignature } from '../worker/client.ts';
import { type ApiFarm, farmIdOf, startApiFarm, type TestClient } from './support/orchestrator.ts';

let api: ApiFarm;
let w: TestClient;

beforeAll(async () => {
  api = await startApiFarm();
  w = await api.worker('w');
});

afterAll(() => api.stop());

describe('a stale signature', () => {
  it('is a request held up in queues when the orchestrator’s Date agrees with this clock: tried again', async () => {
    const heldUp = signRequest(
      w.identity.key,
      await farmIdOf(api.farm.url),
      'POST',
      '/api/work/next',
      new Uint8Array(),
      Date.now() - 301_000,
    );
    const res = await fetch(`${api.farm.url}/api/work/next`, {
      method: 'POST',
      headers: {
        [SIGNATURE_HEADERS.worker]: w.identity.id,
        [SIGNATURE_HEADERS.timestamp]: heldUp.timestamp,
        [SIGNATURE_HEADERS.signature]: heldUp.signature,
      },
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { title: string }).title).toBe(STALE_SIGNATURE);
    const err = staleSignature('POST /api/work/next: 401', res.headers.get('date'), Date.now());
    expect(err.title).toBe(STALE_SIGNATURE);
    expect(isTransient(err)).toBe(true);
  });

  it('is a clock off the orchestrator’s by more than half the window: final, and says which way', () => {
    const orchestratorNow = Date.parse('2026-12-04T12:00:00Z');
    const date = new Date(orchestratorNow).toUTCString();
    const ahead = staleSignature('POST /api/workers: 401', date, orchestratorNow + 400_000);
    expect(ahead.title).toBe(CLOCK_SKEW);
    expect(ahead.message).toBe("POST /api/workers: 401: this machine's clock is 400 s ahead of the orchestrator's; set it (NTP)");
    expect(isTransient(ahead)).toBe(false);
    expect(staleSignature('x', date, orchestratorNow - 1_000_000).message).toContain('1,000 s behind');
    // Within half the window (and a missing Date) it is taken for a request held up.
    expect(staleSignature('x', date, orchestratorNow + SIGNATURE_WINDOW_MS / 2).title).toBe(STALE_SIGNATURE);
    expect(staleSignature('x', null, orchestratorNow + 400_000).title).toBe(STALE_SIGNATURE);
  });

  it('reads how far the orchestrator’s clock runs ahead from its Date header, within two seconds as none (the header is to the second)', () => {
    const orchestratorNow = Date.parse('2026-12-04T12:00:00Z');
    const date = new Date(orchestratorNow).toUTCString();
    expect(clockOffset(date, orchestratorNow - 90_000)).toBe(90_000);
    expect(clockOffset(date, orchestratorNow + 90_000)).toBe(-90_000);
    expect(clockOffset(date, orchestratorNow + 1_500)).toBe(0);
    expect(clockOffset(null, orchestratorNow)).toBe(0);
    // Not the orchestrator's clock: past the signature window (a proxy's page), or a cache's copy.
    expect(clockOffset(date, orchestratorNow - 3_600_000)).toBe(0);
    expect(clockOffset(date, orchestratorNow - 90_000, '12')).toBe(0);
  });

  it('leaves every other refusal final and an orchestrator’s failure, a rate limit or no answer transient', () => {
    expect(isTransient(new OrchestratorError(401, 'Bad signature', 'x'))).toBe(false);
    expect(isTransient(new OrchestratorError(409, 'Stake required', 'x'))).toBe(false);
    expect(isTransient(new OrchestratorError(503, 'Busy', 'x'))).toBe(true);
    expect(isTransient(new OrchestratorError(429, 'Too many requests', 'x'))).toBe(true);
    expect(isTransient(new TypeError('fetch failed'))).toBe(true);
  });
});
