/**
 * A DNS server for tests, on UDP at 127.0.0.1: answers A and AAAA queries from a table that a
 * test may change between queries (DNS rebinding), NXDOMAIN for a name not in it, and nothing at
 * all for a name listed as silent (a stalled DNS server).
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import ipaddr from 'ipaddr.js';

const A = 1;
const AAAA = 28;

/** The question's name and type, and where the question ends. */
function question(query: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let at = 12;
  while (query[at] !== 0) {
    labels.push(query.toString('latin1', at + 1, at + 1 + query[at]));
    at += 1 + query[at];
  }
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at + 1), end: at + 5 };
}

export class DnsServer {
  /** name → its addresses, IPv4 and IPv6 mixed. */
  readonly records = new Map<string, string[]>();
  readonly silent = new Set<string>();
  private socket?: Socket;

  /** `address:port`, as Resolver.setServers takes it. */
  server = '';

  async listen(): Promise<this> {
    const socket = createSocket('udp4');
    socket.on('message', (query, from) => {
      const answer = this.answer(query);
      if (answer) socket.send(answer, from.port, from.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.socket = socket;
    this.server = `127.0.0.1:${(socket.address() as AddressInfo).port}`;
    return this;
  }

  private answer(query: Buffer): Buffer | undefined {
    const { name, type, end } = question(query);
    if (this.silent.has(name)) return undefined;
    const addresses = this.records.get(name);
    const rdata = (addresses ?? [])
      .map((a) => ipaddr.parse(a))
      .filter((ip) => (type === A ? ip.kind() === 'ipv4' : type === AAAA && ip.kind() === 'ipv6'))
      .map((ip) => Buffer.from(ip.toByteArray()));
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    // A response, recursion desired and available; NXDOMAIN for an unknown name.
    header.writeUInt16BE(addresses ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(rdata.length, 6);
    const answers = rdata.map((data) => {
      const rr = Buffer.alloc(12);
      // The name: a pointer to the question's.
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4);
      // TTL 0: every query asks again.
      rr.writeUInt32BE(0, 6);
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    return Buffer.concat([header, query.subarray(12, end), ...answers]);
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }
}
