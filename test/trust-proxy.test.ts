/**
 * Per-address limits behind a reverse proxy: X-Forwarded-For names the client only when the
 * operator said which proxy to believe (FARM_TRUST_PROXY); otherwise a client that writes the
 * header itself to get a fresh address for every request is still counted as its own socket.
 * The same setting lets a TLS proxy's X-Forwarded-Proto make the session cookie Secure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorConfig } from '../orchestrator/config.ts';
import { type ApiFarm, OPERATOR_TOKEN, startApiFarm } from './support/orchestrator.ts';

/** Failed authentications an address gets per minute before it is turned away (429). */
const FAILURES = 3;

/** A request with a wrong token, said to come from `address`: 401 while that address has failures left, then 429. */
const failFrom = (farm: ApiFarm, address: string) =>
  fetch(`${farm.farm.url}/api/jobs`, { headers: { authorization: 'Bearer not-a-token', 'x-forwarded-for': address } }).then(
    (r) => r.status,
  );

/** Uses up 203.0.113.1's failures, then fails once from each of two other addresses. */
async function exhaustOneAddress(farm: ApiFarm): Promise<number[]> {
  for (let i = 0; i < FAILURES; i++) expect(await failFrom(farm, '203.0.113.1')).toBe(401);
  return [await failFrom(farm, '203.0.113.1'), await failFrom(farm, '203.0.113.2'), await failFrom(farm, '198.51.100.7')];
}

describe('the address a per-address limit counts', () => {
  let direct: ApiFarm;
  let proxied: ApiFarm;
  beforeAll(async () => {
    [direct, proxied] = await Promise.all([
      startApiFarm({ failedAuthPerMinute: FAILURES }),
      // The test's requests come from loopback, as a proxy on the same host would.
      startApiFarm({ failedAuthPerMinute: FAILURES, trustProxy: 'loopback' }),
    ]);
  });
  afterAll(() => Promise.all([direct?.stop(), proxied?.stop()]));

  // First: the tests below use up the direct farm's failures for the loopback address.
  it('makes the session cookie Secure when a trusted proxy says the client came over TLS', async () => {
    const signIn = (farm: ApiFarm) =>
      fetch(`${farm.farm.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
        body: JSON.stringify({ token: OPERATOR_TOKEN }),
      }).then((r) => r.headers.get('set-cookie') ?? '');
    expect(await signIn(proxied)).toMatch(/; Secure/);
    const cookie = await signIn(direct);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).not.toMatch(/Secure/);
  });

  it("is the socket's by default: a forged X-Forwarded-For does not buy a fresh allowance", async () => {
    expect(await exhaustOneAddress(direct)).toEqual([429, 429, 429]);
  });

  it('is the one a trusted proxy forwarded, each client counted on its own', async () => {
    expect(await exhaustOneAddress(proxied)).toEqual([429, 401, 401]);
  });

  it('refuses a setting that would believe any hop, or names no address', () => {
    for (const trustProxy of ['true', 'proxy.example', '10.0.0.0/33', '10.0.0.1,']) {
      const parsed = OrchestratorConfig.safeParse({ trustProxy });
      expect(parsed.success, trustProxy).toBe(false);
      expect(parsed.error?.issues[0].path).toEqual(['trustProxy']);
    }
    const parse = (trustProxy?: string) => OrchestratorConfig.parse({ trustProxy }).trustProxy;
    expect([parse(), parse(''), parse('2'), parse('loopback, 10.0.0.0/8,::1')]).toEqual([
      false,
      false,
      2,
      ['loopback', '10.0.0.0/8', '::1'],
    ]);
  });
});
