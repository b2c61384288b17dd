/**
 * Per-address limits behind a reverse proxy: X-Forwarded-For names the client only when the
 * operator said which proxy to believe (FARM_TRUST_PROXY); otherwise a client that writes the
 * header itself to get a fresh address for every request is still counted as its own socket.
 * A setting broad enough to trust the clients themselves is refused. The same setting lets a TLS
 * proxy's X-Forwarded-Proto make the session cookie a Secure `__Host-` one.
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
async function exhaustOneAddress(farm: ApiFarm, forged = () => ''): Promise<number[]> {
  const from = (address: string) => failFrom(farm, `${forged()}${address}`);
  for (let i = 0; i < FAILURES; i++) expect(await from('203.0.113.1')).toBe(401);
  return [await from('203.0.113.1'), await from('203.0.113.2'), await from('198.51.100.7')];
}

describe('the address a per-address limit counts', () => {
  let direct: ApiFarm;
  let proxied: ApiFarm;
  let counted: ApiFarm;
  beforeAll(async () => {
    [direct, proxied, counted] = await Promise.all([
      startApiFarm({ failedAuthPerMinute: FAILURES }),
      // The test's requests come from loopback, as a proxy on the same host would.
      startApiFarm({ failedAuthPerMinute: FAILURES, trustProxy: 'loopback' }),
      startApiFarm({ failedAuthPerMinute: FAILURES, trustProxy: '1' }),
    ]);
  });
  afterAll(() => Promise.all([direct?.stop(), proxied?.stop(), counted?.stop()]));

  // First: the tests below use up the direct farm's failures for the loopback address.
  it('makes the session cookie Secure when a trusted proxy says the client came over TLS', async () => {
    const signIn = (farm: ApiFarm) =>
      fetch(`${farm.farm.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
        body: JSON.stringify({ token: OPERATOR_TOKEN }),
      }).then((r) => r.headers.get('set-cookie') ?? '');
    const secure = await signIn(proxied);
    expect(secure).toMatch(/^__Host-farm_session=[^;]+;.*; Secure/);
    expect(secure).toMatch(/; Path=\/;/);
    const cookie = await signIn(direct);
    expect(cookie).toMatch(/^farm_session=.*HttpOnly/);
    expect(cookie).not.toMatch(/Secure/);
    // Over HTTPS only the __Host- cookie counts: one a sibling subdomain set for the parent domain
    // (`farm_session`, sent first for its longer path) had put the victim's uploads and submissions
    // in the attacker's account; and a request carrying the session cookie twice has no session.
    // Each from its own client, as the proxy says: refusals count against an address.
    let client = 0;
    const session = (cookies: string, proto = 'https') =>
      fetch(`${proxied.farm.url}/api/session`, {
        headers: { cookie: cookies, 'x-forwarded-proto': proto, 'x-forwarded-for': `192.0.2.${++client}` },
      }).then((r) => r.status);
    const [own] = secure.split(';');
    const tossed = `farm_session=${OPERATOR_TOKEN}`;
    expect(await session(own)).toBe(200);
    expect(await session(tossed)).toBe(401);
    expect(await session(`${own.replace(OPERATOR_TOKEN, 'another-token')}; ${own}`)).toBe(401);
    expect(await session(tossed, 'http')).toBe(200);
    expect(await session(`${tossed}; ${tossed}`, 'http')).toBe(401);
    expect(await session(`farm_session =another-token; ${tossed}`, 'http')).toBe(401);
  });

  it("is the socket's by default: a forged X-Forwarded-For does not buy a fresh allowance", async () => {
    expect(await exhaustOneAddress(direct)).toEqual([429, 429, 429]);
  });

  it('is the one a trusted proxy forwarded, each client counted on its own', async () => {
    // A client's own entries sit left of what the proxy appends: past the first untrusted address.
    let n = 0;
    expect(await exhaustOneAddress(proxied, () => `192.0.2.${++n}, `)).toEqual([429, 401, 401]);
  });

  it('is the Nth address from the right with a hop count, whoever wrote it', async () => {
    // Behind exactly one proxy, the entry it appends is the client's, whatever the client wrote before it.
    let n = 0;
    expect(await exhaustOneAddress(counted, () => `192.0.2.${++n}, `)).toEqual([429, 401, 401]);
    // Reaching the port without the proxy, a client's own entry is the one counted (README: prefer addresses).
    expect(await failFrom(counted, '198.51.100.200')).toBe(401);
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

  it('refuses subnets so broad that they are `true` by another name, naming the setting', () => {
    // ::/16 and ::ffff:0:0/96 hold every IPv4 address (IPv4-mapped), which Express matches against IPv4 clients.
    const broad = ['0.0.0.0/0', '::/0', '0.0.0.0', '::', '10.0.0.0/7', '2001:db8::/15', '::/16', '::ffff:0:0/96', '::ffff:10.0.0.0/103'];
    for (const trustProxy of broad) {
      const parsed = OrchestratorConfig.safeParse({ trustProxy: `127.0.0.1, ${trustProxy}` });
      expect(parsed.success, trustProxy).toBe(false);
      expect(parsed.error?.issues).toHaveLength(1);
      expect(parsed.error?.issues[0].path).toEqual(['trustProxy']);
      expect(parsed.error?.issues[0].message).toMatch(/^FARM_TRUST_PROXY /);
    }
    const narrow = ['10.0.0.0/8', '2001:db8::/16', '::ffff:10.0.0.0/104', 'uniquelocal', '192.0.2.1'];
    expect(OrchestratorConfig.parse({ trustProxy: narrow.join(',') }).trustProxy).toEqual(narrow);
  });
});
