/**
 * Where a webhook may be delivered: by default only to global unicast addresses, so that a
 * requester cannot make the farm POST into the network it runs in (SSRF: loopback, private,
 * link-local — cloud metadata at 169.254.169.254 —, CGNAT, multicast, unspecified, and IPv6 forms
 * that reach IPv4, such as ::ffff:127.0.0.1). A hook's host is checked when it is registered, and
 * again at every delivery on the very address the connection is made to (the `lookup` of the
 * request), so a name that resolves elsewhere later (DNS rebinding) is refused too. The setting
 * webhookAllowPrivate lifts the rule, for a farm on a private network (and for tests).
 */
import type { LookupAddress } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Not the public internet, though ipaddr.js 1.9 calls them unicast. */
const ALSO_REFUSED: [string, [ipaddr.IPv4, number] | [ipaddr.IPv6, number]][] = [
  ['benchmarking', ipaddr.IPv4.parseCIDR('198.18.0.0/15')],
  ['siteLocal', ipaddr.IPv6.parseCIDR('fec0::/10')],
  ['ipv4Compatible', ipaddr.IPv6.parseCIDR('::/96')],
  ['discard', ipaddr.IPv6.parseCIDR('100::/64')],
  // NAT64 for a network's own prefix (RFC 8215): it translates to whatever IPv4 the suffix names, private included.
  ['localNat64', ipaddr.IPv6.parseCIDR('64:ff9b:1::/48')],
];

/**
 * The range an IP address is in: 'unicast' for a global unicast address, else the range's name
 * (ipaddr.js' names: 'loopback', 'private', 'linkLocal', 'carrierGradeNat', 'uniqueLocal', …), or
 * 'invalid'. An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
 */
export function addressRange(address: string): string {
  if (!ipaddr.isValid(address)) return 'invalid';
  let ip = ipaddr.parse(address);
  if (ip instanceof ipaddr.IPv6 && ip.isIPv4MappedAddress()) ip = ip.toIPv4Address();
  const range = ip.range();
  if (range !== 'unicast') return range;
  for (const [name, [net, bits]] of ALSO_REFUSED) {
    if (ip.kind() === net.kind() && (ip as ipaddr.IPv4).match(net as ipaddr.IPv4, bits)) return name;
  }
  return 'unicast';
}

const RULE = 'webhooks go to public addresses only (webhookAllowPrivate)';

/** The range of `address` when the rule refuses it, else undefined. */
function refusedRange(address: string, allowPrivate: boolean): string | undefined {
  const range = addressRange(address);
  return range === 'unicast' || (allowPrivate && range !== 'invalid') ? undefined : range;
}

/** Why a host is refused: `reason` for its requester, `detail` (what it resolved to) for the log only. */
export interface Refusal {
  reason: string;
  detail: string;
}

/** Why the farm may not connect to `host` at `addresses` (all of them at registration, each at delivery), or undefined. */
function refusalOf(host: string, addresses: string[], allowPrivate: boolean): Refusal | undefined {
  const refused = addresses.flatMap((a) => {
    const range = refusedRange(a, allowPrivate);
    return range ? [`${a} (${range})`] : [];
  });
  if (refused.length === 0) return undefined;
  // A literal's range tells its requester nothing new; a name's addresses would map the farm's own network.
  const reason = isIP(host)
    ? `${host}, a ${refusedRange(host, allowPrivate)} address: ${RULE}`
    : `${host} resolves to a non-public address: ${RULE}`;
  return { reason, detail: `${host}: ${refused.join(', ')}` };
}

/** The URL's host as an address or a name (an IPv6 literal without its brackets). */
const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Loopback by definition (RFC 6761), never asked of DNS. */
const isLocalhost = (host: string) => /(^|\.)localhost\.?$/i.test(host);
const LOOPBACK: LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/**
 * Resolves hook hosts by DNS with c-ares (A and AAAA), never getaddrinfo: that one blocks a
 * thread of libuv's pool, which also reads and writes the farm's files (and sharp's images),
 * so a hook's slow DNS server would stall the orchestrator's disk. Each query gives up after
 * timeoutMs, `tries` times. /etc/hosts is not read.
 */
export class HostResolver {
  private readonly resolver: Resolver;

  constructor({ timeoutMs = 2000, tries = 2, servers }: { timeoutMs?: number; tries?: number; servers?: string[] } = {}) {
    this.resolver = new Resolver({ timeout: timeoutMs, tries });
    if (servers) this.resolver.setServers(servers);
  }

  /**
   * The addresses of `host`, IPv4 first, of `family` only unless it is 0: an address literal is
   * its own, `localhost` loopback. Throws the resolver's error (ENOTFOUND, ETIMEOUT …) when
   * neither family has an address.
   */
  async addresses(host: string, family: 0 | 4 | 6 = 0): Promise<LookupAddress[]> {
    const literal = isIP(host);
    const known = literal ? [{ address: host, family: literal }] : isLocalhost(host) ? LOOPBACK : undefined;
    if (known) return known.filter((a) => family === 0 || a.family === family);
    const none = Promise.resolve([]);
    const settled = await Promise.allSettled([
      family === 6 ? none : this.resolver.resolve4(host),
      family === 4 ? none : this.resolver.resolve6(host),
    ]);
    const found = settled.flatMap((s, i) =>
      s.status === 'fulfilled' ? s.value.map((address) => ({ address, family: i === 0 ? 4 : 6 })) : [],
    );
    if (found.length > 0) return found;
    const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as NodeJS.ErrnoException] : []));
    throw errors.find((e) => e.code !== 'ENODATA') ?? errors[0] ?? Object.assign(new Error(`${host} has no address`), { code: 'ENODATA' });
  }
}

/** The system's DNS servers (resolv.conf). */
const systemResolver = new HostResolver();

/**
 * Why a hook's URL is refused at registration, or undefined: its host must resolve, and (unless
 * allowPrivate) every address it resolves to must be public.
 */
export async function urlRefusal(url: URL, allowPrivate: boolean, resolver = systemResolver): Promise<Refusal | undefined> {
  const host = hostOf(url);
  let addresses: LookupAddress[];
  try {
    addresses = await resolver.addresses(host);
  } catch (e) {
    const reason = `${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    return { reason, detail: reason };
  }
  return refusalOf(
    host,
    addresses.map((a) => a.address),
    allowPrivate,
  );
}

/** A refused address at delivery: retrying cannot help until the hook's DNS changes. */
export class AddressRefused extends Error {
  override name = 'AddressRefused';
  constructor(
    message: string,
    /** For the log only. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/**
 * Before connecting to `url`: throws AddressRefused when its host is an address literal the rule
 * refuses (Node connects to literals without a lookup).
 */
export function checkLiteral(url: URL, allowPrivate: boolean): void {
  const host = hostOf(url);
  const refused = isIP(host) ? refusalOf(host, [host], allowPrivate) : undefined;
  if (refused) throw new AddressRefused(refused.reason, refused.detail);
}

/**
 * A `lookup` for http(s).request that resolves with `resolver` and keeps only the addresses the
 * rule allows: the connection is made to one of those or not at all. As net.connect calls it:
 * `options.family` 0, 4 or 6; `options.all` (autoSelectFamily) for every allowed address, else
 * the first.
 */
export function guardedLookup(allowPrivate: boolean, resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolver.addresses(hostname, family === 4 || family === 6 ? family : 0).then(
      (addresses) => {
        const allowed = addresses.filter((a) => !refusedRange(a.address, allowPrivate));
        const [first] = allowed;
        if (!first) {
          const refused = refusalOf(
            hostname,
            addresses.map((a) => a.address),
            allowPrivate,
          );
          return callback(new AddressRefused(refused?.reason ?? `${hostname} has no address`, refused?.detail), '');
        }
        if (options.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
