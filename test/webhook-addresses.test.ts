/**
 * The SSRF rule of webhooks (orchestrator/webhooks/addresses.ts): only global unicast addresses,
 * IPv4 and IPv6, an IPv4-mapped IPv6 address judged as the IPv4 address it maps; and the
 * registration check that applies it to what a URL's host resolves to.
 */
import { describe, expect, it } from 'vitest';
import { addressRange, urlRefusal } from '../orchestrator/webhooks/addresses.ts';

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
    expect(await urlRefusal(new URL('http://127.0.0.1:9/'), false)).toMatch(/127\.0\.0\.1, a loopback address/);
    expect(await urlRefusal(new URL('http://[::1]/'), false)).toMatch(/loopback/);
    expect(await urlRefusal(new URL('http://[::ffff:a00:1]/'), false)).toMatch(/private/);
    // The WHATWG parser reads 2130706433 as 127.0.0.1.
    expect(await urlRefusal(new URL('http://2130706433/'), false)).toMatch(/loopback/);
    expect(await urlRefusal(new URL('http://localhost:8080/hook'), false)).toMatch(/localhost resolves to .*loopback/);
    expect(await urlRefusal(new URL('http://localhost:8080/hook'), true)).toBeUndefined();
    expect(await urlRefusal(new URL('http://8.8.8.8/hook'), false)).toBeUndefined();
  });
});
