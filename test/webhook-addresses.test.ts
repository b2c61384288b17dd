/**
 * The SSRF rule of webhooks (orchestrator/webhooks/addresses.ts): only global unicast addresses,
 * IPv4 and IPv6, an IPv4-mapped IPv6 address judged as the IPv4 address it maps; the registration
 * check that applies it to what a URL's host resolves to, without telling the requester the
 * addresses; and resolution by DNS (a real DNS server, test/support/dns.ts) off libuv's
 * threadpool, with a timeout, for the registration check and the delivery's `lookup` alike.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressRefused, addressRange, guardedLookup, HostResolver, urlRefusal } from '../orchestrator/webhooks/addresses.ts';
import { DnsServer } from './support/dns.ts';

describe('webhook address rule', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.7', 'reserved'],
    ['198.18.0.1', 'benchmarking'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['fec0::1', 'siteLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['::7f00:1', 'ipv4Compatible'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['64:ff9b:1::a00:1', 'localNat64'],
    ['64:ff9b:1:ffff::1', 'localNat64'],
    ['2002:7f00:1::', '6to4'],
    ['2001:db8::1', 'reserved'],
    ['not an address', 'invalid'],
    ['8.8.8.8', 'unicast'],
    ['93.184.216.34', 'unicast'],
    ['172.32.0.1', 'unicast'],
    ['::ffff:8.8.8.8', 'unicast'],
    ['2606:4700:4700::1111', 'unicast'],
  ])('%s is %s', (address, range) => {
    expect(addressRange(address)).toBe(range);
  });

  it('refuses a URL whose host is or resolves to a non-public address, unless private addresses are allowed', async () => {
    const reason = async (url: string) => (await urlRefusal(new URL(url), false))?.reason;
    expect(await reason('http://127.0.0.1:9/')).toMatch(/127\.0\.0\.1, a loopback address/);
    expect(await reason('http://[::1]/')).toMatch(/loopback/);
    expect(await reason('http://[::ffff:a00:1]/')).toMatch(/private/);
    expect(await reason('http://[64:ff9b:1::a00:1]/')).toMatch(/localNat64/);
    // The WHATWG parser reads 2130706433 as 127.0.0.1.
    expect(await reason('http://2130706433/')).toMatch(/loopback/);
    // localhost is loopback by definition (RFC 6761), without asking DNS.
    expect(await reason('http://localhost:8080/hook')).toMatch(/^localhost resolves to a non-public address/);
    expect(await reason('http://api.localhost/hook')).toMatch(/non-public/);
    expect(await urlRefusal(new URL('http://localhost:8080/hook'), true)).toBeUndefined();
    expect(await urlRefusal(new URL('http://8.8.8.8/hook'), false)).toBeUndefined();
  });
});

describe('webhook hosts resolved by DNS', () => {
  let dns: DnsServer;
  let resolver: HostResolver;
  beforeAll(async () => {
    dns = await new DnsServer().listen();
    resolver = new HostResolver({ servers: [dns.server], timeoutMs: 300, tries: 1 });
    dns.records.set('public.test', ['93.184.216.34', '2606:4700:4700::1111']);
    dns.records.set('v6only.test', ['2606:4700:4700::1111']);
    dns.records.set('inside.test', ['93.184.216.34', '172.18.0.2']);
    dns.records.set('redis', ['172.18.0.2']);
    dns.records.set('empty.test', []);
    dns.silent.add('stalled.test');
  });
  afterAll(() => dns.close());

  it('refuses a name if any address it resolves to is not public, telling the requester no address', async () => {
    const refusal = (host: string, allowPrivate = false) => urlRefusal(new URL(`https://${host}/hook`), allowPrivate, resolver);
    expect(await refusal('public.test')).toBeUndefined();
    expect(await refusal('v6only.test')).toBeUndefined();
    for (const host of ['inside.test', 'redis']) {
      const refused = await refusal(host);
      expect(refused?.reason).toBe(`${host} resolves to a non-public address: webhooks go to public addresses only (webhookAllowPrivate)`);
      // The addresses are for the log only.
      expect(refused?.detail).toBe(`${host}: 172.18.0.2 (private)`);
    }
    expect(await refusal('redis', true)).toBeUndefined();
  });

  it('refuses a name that does not resolve, or whose DNS server does not answer, after the timeout', async () => {
    const reason = async (host: string) => (await urlRefusal(new URL(`http://${host}/`), true, resolver))?.reason;
    expect(await reason('nowhere.test')).toBe('nowhere.test does not resolve (ENOTFOUND)');
    expect(await reason('empty.test')).toBe('empty.test does not resolve (ENODATA)');
    expect(await reason('stalled.test')).toBe('stalled.test does not resolve (ETIMEOUT)');
  });

  it("resolves off libuv's threadpool: lookups stalled on a DNS server hold up no file read", async () => {
    const slow = new HostResolver({ servers: [dns.server], timeoutMs: 3000, tries: 1 });
    let ended = 0;
    // Four times the pool's threads: getaddrinfo would hold all of them until the lookups time out.
    const lookups = Array.from({ length: 16 }, () => urlRefusal(new URL('http://stalled.test/'), false, slow).finally(() => ended++));
    await Promise.all(Array.from({ length: 8 }, () => readFile(new URL(import.meta.url))));
    expect(ended).toBe(0);
    for (const refused of await Promise.all(lookups)) expect(refused?.reason).toMatch(/ETIMEOUT/);
  });

  it("a delivery's lookup keeps only allowed addresses, of the family asked, one or all, and refuses a name that now resolves inside (DNS rebinding)", async () => {
    const lookup = (host: string, options: LookupOptions, allowPrivate = false) =>
      new Promise<string | LookupAddress[]>((resolve, reject) =>
        guardedLookup(allowPrivate, resolver)(host, options, (err, address) => (err ? reject(err) : resolve(address))),
      );
    expect(await lookup('public.test', { all: true })).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700:4700::1111', family: 6 },
    ]);
    expect(await lookup('public.test', {})).toBe('93.184.216.34');
    expect(await lookup('public.test', { family: 6 })).toBe('2606:4700:4700::1111');
    expect(await lookup('public.test', { family: 4, all: true })).toEqual([{ address: '93.184.216.34', family: 4 }]);
    expect(await lookup('inside.test', { all: true })).toEqual([{ address: '93.184.216.34', family: 4 }]);
    expect(await lookup('inside.test', { all: true }, true)).toHaveLength(2);
    await expect(lookup('v6only.test', { family: 4 })).rejects.toMatchObject({ code: 'ENODATA' });

    dns.records.set('rebind.test', ['93.184.216.34']);
    expect(await urlRefusal(new URL('http://rebind.test/'), false, resolver)).toBeUndefined();
    dns.records.set('rebind.test', ['127.0.0.1']);
    const refused = await lookup('rebind.test', {}).catch((e: AddressRefused) => e);
    expect(refused).toBeInstanceOf(AddressRefused);
    expect((refused as AddressRefused).message).toMatch(/^rebind\.test resolves to a non-public address/);
    expect((refused as AddressRefused).message).not.toContain('127.0.0.1');
    expect((refused as AddressRefused).detail).toBe('rebind.test: 127.0.0.1 (loopback)');
  });
});
