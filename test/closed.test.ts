/**
 * A response's end, heard however late one asks (orchestrator/http/closed.ts): what a request
 * holds (a byte budget, a live view's place) is given back even when its client hung up while
 * the request awaited something, before anyone listened for the close.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { onClosed } from '../orchestrator/http/closed.ts';

describe('onClosed', () => {
  it('calls back for a response whose client had gone before it was asked', async () => {
    let released = false;
    const server = createServer(async (_req, res) => {
      // A token looked up in Redis, say: the client hangs up meanwhile.
      await new Promise((r) => setTimeout(r, 200));
      onClosed(res, () => {
        released = true;
      });
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write('PUT / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await expect.poll(() => released).toBe(true);
    server.close();
  });
});
