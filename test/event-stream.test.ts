/**
 * Live views' streams (orchestrator/http/event-stream.ts) on a real HTTP server: a client that
 * stopped reading holds what it was sent until it is dropped, and a stream is sent no faster than
 * its byte rate, however often its job changes.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { batcher, type EventStream, openEventStream, STREAM_BYTES_PER_SECOND } from '../orchestrator/http/event-stream.ts';
import { SharedStatuses } from '../orchestrator/http/job-events.ts';

let server: Server | undefined;
afterEach(() => server?.close());

describe('a live view’s stream', () => {
  it('holds what a client that stopped reading was sent, then drops it once nothing has moved for a while', async () => {
    let listening: Server | undefined;
    const opened = new Promise<{ stream: EventStream; res: Response }>((resolve) => {
      listening = createServer((_req, res) => {
        const express = res as unknown as Response;
        resolve({ stream: openEventStream(express, { stalledMs: 400 }), res: express });
      }).listen(0, '127.0.0.1');
    });
    server = listening as Server;
    await once(server, 'listening');
    // A client that sends its request and then never reads a byte.
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    socket.pause();
    const { stream, res } = await opened;
    // A status of a job of many thousand frames: more than the sockets between them hold.
    const status = { frames: 'x'.repeat(1024 * 1024) };
    for (let i = 0; i < 16; i++) stream.send('job', status);
    expect(res.writableNeedDrain).toBe(true);
    // A flush waits for it (what changes meanwhile comes in one flush after) …
    let drained = false;
    void stream.drained().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect([drained, stream.closed]).toEqual([false, false]);
    // … until the stream is dropped for not reading.
    await expect.poll(() => stream.closed).toBe(true);
    expect(drained).toBe(true);
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

describe('the status the live views of one job share', () => {
  it('is read once between two of the job’s changes, again after each, never shared once it failed, forgotten with its last view', async () => {
    const statuses = new SharedStatuses();
    let reads = 0;
    const read = async () => ++reads;
    const [a, b] = [statuses.view<number>('j1'), statuses.view<number>('j1')];
    expect([await a.status(read), await b.status(read)]).toEqual([1, 1]);
    // A change: each view's watcher tells it; the next flushes read once, afresh.
    a.changed();
    b.changed();
    expect([await b.status(read), await a.status(read)]).toEqual([2, 2]);
    // Another job's views read their own.
    expect(await statuses.view<number>('j2').status(read)).toBe(3);
    a.changed();
    await expect(a.status(() => Promise.reject(new Error('Redis away')))).rejects.toThrow('Redis away');
    expect(await b.status(read)).toBe(4);
    a.close();
    b.close();
    // A view opened later starts over, whatever it was told before.
    expect(await statuses.view<number>('j1').status(read)).toBe(5);
  });
});
