/**
 * One delivery attempt: POSTs an event's JSON to its hook's URL, signed with the hook's secret as
 * Standard Webhooks sign (shared/webhooks.ts WEBHOOK_HEADERS).
 * Only a 2xx answer delivers it; anything else (a redirect included: none is followed, as its
 * target was never checked) throws, for the queue to retry. The connection goes only to an address
 * the SSRF rule allows (addresses.ts); the receiver's answer is read no further than an excerpt
 * for the log.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { WEBHOOK_HEADERS } from '../../shared/webhooks.ts';
import { checkLiteral, guardedLookup, type HostResolver } from './addresses.ts';

/** Bytes of a receiver's answer kept for the log. */
const EXCERPT_BYTES = 512;

export interface Delivery {
  url: string;
  secret: string;
  /** The event's id, and its JSON exactly as signed and sent. */
  id: string;
  body: string;
}

export interface DeliverySettings {
  allowPrivate: boolean;
  timeoutMs: number;
  /** The system's DNS servers unless given. */
  resolver?: HostResolver;
}

/** Standard Webhooks' `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the bytes the secret's base64 after `whsec_` stands for. */
const signature = (secret: string, id: string, timestamp: string, body: string): string =>
  `v1,${createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64')}`;

export async function deliver(d: Delivery, settings: DeliverySettings): Promise<void> {
  const url = new URL(d.url);
  checkLiteral(url, settings.allowPrivate);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(d.body)),
    'user-agent': 'farm-webhooks',
    [WEBHOOK_HEADERS.id]: d.id,
    [WEBHOOK_HEADERS.timestamp]: timestamp,
    [WEBHOOK_HEADERS.signature]: signature(d.secret, d.id, timestamp, d.body),
  };
  const { status, excerpt } = await new Promise<{ status: number; excerpt: string }>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        headers,
        // A connection of its own each time: every delivery is checked on the address it connects to.
        agent: false,
        lookup: guardedLookup(settings.allowPrivate, settings.resolver),
        signal: AbortSignal.timeout(settings.timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        const done = () => {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, excerpt: Buffer.concat(chunks).toString('utf8', 0, EXCERPT_BYTES) });
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          kept += chunk.length;
          if (kept >= EXCERPT_BYTES) done();
        });
        res.on('end', done);
        res.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(d.body);
  });
  if (status < 200 || status > 299) throw new Error(`the receiver answered ${status}${excerpt ? `: ${excerpt.trim()}` : ''}`);
}
