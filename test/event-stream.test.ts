/**
 * Live views' streams (orchestrator/http/event-stream.ts) on a real HTTP server: a client that
 * does not read is dropped rather than buffered for, and a stream is sent no faster than its byte
 * rate, however often its job changes.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import {
  batcher,
  type EventStream,
  MAX_UNSENT_BYTES,
  openEventStream,
  STREAM_BYTES_PER_SECOND,
} from '../orchestrator/http/event-stream.ts';

let server: Server | undefined;
afterEach(() => server?.close());

describe('a live view’s stream', () => {
  it('is dropped when its client does not read, instead of holding what it is sent', async () => {
    let listening: Server | undefined;
    const opened = new Promise<{ stream: EventStream; res: Response }>((resolve) => {
      listening = createServer((_req, res) => {
        const express = res as unknown as Response;
        resolve({ stream: openEventStream(express), res: express });
      }).listen(0, '127.0.0.1');
    });
    server = listening as Server;
    await once(server, 'listening');
    // A client that sends its request and then never reads a byte.
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    socket.pause();
    const { stream, res } = await opened;
    // A status of a job of many thousand frames, sent again and again: 64 MiB in all.
    const status = { frames: 'x'.repeat(1024 * 1024) };
    let sent = 0;
    for (let i = 0; i < 64; i++) sent += stream.send('job', status);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    await expect.poll(() => stream.closed).toBe(true);
    expect(res.writableLength).toBeLessThanOrEqual(MAX_UNSENT_BYTES + 2 * 1024 * 1024);
    expect(stream.send('job', status)).toBe(0);
    socket.destroy();
  });
});

describe('the batcher of a live view’s updates', () => {
  it('flushes a burst of changes once, and big updates no faster than the stream’s byte rate', async () => {
    const flushes: { at: number; keys: string[] }[] = [];
    // Each flush sends a quarter of a second's bytes.
    const updates = batcher(
      20,
      async (keys) => {
        flushes.push({ at: performance.now(), keys });
        return STREAM_BYTES_PER_SECOND / 4;
      },
      (err) => {
        throw err;
      },
    );
    for (const key of ['a', 'b', 'a']) updates.add(key);
    await expect.poll(() => flushes.length).toBe(1);
    expect(flushes[0].keys).toEqual(['a', 'b']);
    updates.add('c');
    await expect.poll(() => flushes.length).toBe(2);
    updates.add('d');
    await expect.poll(() => flushes.length).toBe(3);
    updates.stop();
    // 20 ms apart at most often; a quarter of a second apart once flushes say they sent that much.
    expect(flushes[2].at - flushes[1].at).toBeGreaterThanOrEqual(240);
  });
});
