/**
 * Where a webhook may be delivered: by default only to global unicast addresses, so that a
 * requester cannot make the farm POST into the network it runs in (SSRF: loopback, private,
 * link-local — cloud metadata at 169.254.169.254 —, CGNAT, multicast, unspecified, and IPv6 forms
 * that reach IPv4, such as ::ffff:127.0.0.1). A hook's host is checked when it is registered, and
 * again at every delivery on the very address the connection is made to (the `lookup` of the
 * request), so a name that resolves elsewhere later (DNS rebinding) is refused too. The setting
 * webhookAllowPrivate lifts the rule, for a farm on a private network (and for tests).
 */
import { type LookupAddress, lookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Not the public internet, though ipaddr.js 1.9 calls them unicast. */
const ALSO_REFUSED: [string, [ipaddr.IPv4, number] | [ipaddr.IPv6, number]][] = [
  ['benchmarking', ipaddr.IPv4.parseCIDR('198.18.0.0/15')],
  ['siteLocal', ipaddr.IPv6.parseCIDR('fec0::/10')],
  ['ipv4Compatible', ipaddr.IPv6.parseCIDR('::/96')],
  ['discard', ipaddr.IPv6.parseCIDR('100::/64')],
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

/** Why the farm may not connect to `address`, or undefined when it may. */
function refusal(host: string, address: string, allowPrivate: boolean): string | undefined {
  const range = addressRange(address);
  if (range === 'unicast' || (allowPrivate && range !== 'invalid')) return undefined;
  const via = host === address ? address : `${host} resolves to ${address}`;
  return `${via}, a ${range} address: webhooks go to public addresses only (webhookAllowPrivate)`;
}

/** The URL's host as an address or a name (an IPv6 literal without its brackets). */
const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Why a hook's URL is refused at registration, or undefined: its host must resolve, and (unless
 * allowPrivate) every address it resolves to must be public.
 */
export async function urlRefusal(url: URL, allowPrivate: boolean): Promise<string | undefined> {
  const host = hostOf(url);
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookupAll(host)).map((a) => a.address);
  } catch (e) {
    return `${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  for (const address of addresses) {
    const why = refusal(host, address, allowPrivate);
    if (why) return why;
  }
  return undefined;
}

const lookupAll = (host: string) =>
  new Promise<LookupAddress[]>((resolve, reject) =>
    lookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/** A refused address at delivery: retrying cannot help until the hook's DNS changes. */
export class AddressRefused extends Error {
  override name = 'AddressRefused';
}

/**
 * Before connecting to `url`: throws AddressRefused when its host is an address literal the rule
 * refuses (Node connects to literals without a lookup).
 */
export function checkLiteral(url: URL, allowPrivate: boolean): void {
  const host = hostOf(url);
  const why = isIP(host) ? refusal(host, host, allowPrivate) : undefined;
  if (why) throw new AddressRefused(why);
}

/**
 * A `lookup` for http(s).request that resolves as usual and keeps only the addresses the rule
 * allows: the connection is made to one of those or not at all.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const allowed = addresses.filter((a) => !refusal(hostname, a.address, allowPrivate));
      const [first] = allowed;
      if (!first) {
        const why = addresses.length > 0 ? refusal(hostname, addresses[0].address, allowPrivate) : `${hostname} has no address`;
        return callback(new AddressRefused(why), '');
      }
      if (options.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}
