/**
 * Attacks on money and identity: dodging a slash by unstaking right after a wrong upload,
 * replaying a captured signed request, stale or non-numeric timestamps, and a key without stake
 * (or a greedy one) hoarding replicas.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Assignment } from '../../shared/protocol.ts';
import { SIGNATURE_HEADERS, signRequest } from '../../shared/signing.ts';
import { WorkerClient } from '../../worker/client.ts';
import { loadOrCreateIdentity } from '../../worker/identity.ts';
import { type ApiFarm, DEVICE, oneTileJob, startApiFarm, type TestClient, uploadShade } from '../support/orchestrator.ts';
import { ROOT } from '../support/scenes.ts';

let api: ApiFarm;
const UNBONDING_MS = 2000;
beforeAll(async () => {
  api = await startApiFarm({ unbondingMs: UNBONDING_MS, stakePerReplica: 10, maxHeldReplicas: 3 });
});
afterAll(() => api.stop());

const account = async (id: string) =>
  (await (await fetch(`${api.farm.url}/api/workers/${id}/ledger`)).json()) as {
    balance: number;
    stake: number;
    locked: number;
    unbonding: number;
    entries: { kind: string; amount: number }[];
  };

/** A signed request built by hand, so that it can be sent again byte for byte. */
function signed(w: TestClient, method: string, path: string, body: string, timestamp?: string) {
  const bytes = new TextEncoder().encode(body);
  const sig = signRequest(w.identity.key, w.farmId, method, path, bytes);
  return () =>
    fetch(`${api.farm.url}${path}`, {
      method,
      body,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADERS.worker]: w.id,
        [SIGNATURE_HEADERS.timestamp]: timestamp ?? sig.timestamp,
        [SIGNATURE_HEADERS.signature]: sig.signature,
        [SIGNATURE_HEADERS.body]: sig.digest,
      },
    });
}

describe('slashing cannot be dodged', () => {
  it('keeps the stake behind a wrong result locked, and slashes it while it unbonds', async () => {
    const truth = await api.worker('truth', { trusted: true });
    const liar = await api.worker('liar', { stake: 30 });
    await api.operator('/api/jobs', oneTileJob(2));
    // The liar answers first (its spot check pool is empty: real work), wrongly.
    const mine = (await liar.client.next()) as Assignment;
    await uploadShade(liar.client, mine, 7);
    // It tries to take its stake out at once: what backs the pending result stays locked …
    await expect(liar.client.unstake(30)).rejects.toMatchObject({ status: 409 });
    // … and what it may ask back only leaves after the unbonding delay.
    expect(await liar.client.unstake(20)).toMatchObject({ stake: 30, locked: 10, unbonding: 20 });
    await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90);
    // Ground truth contradicted it: the whole stake goes, unbonding part included.
    expect(await account(liar.id)).toMatchObject({ stake: 0, locked: 0, unbonding: 0, balance: 0 });
    await new Promise((r) => setTimeout(r, UNBONDING_MS + 1500));
    const after = await account(liar.id);
    expect(after).toMatchObject({ stake: 0, balance: 0 });
    expect(after.entries.map((e) => e.kind)).toContain('slashed');
    expect(after.entries.map((e) => e.kind)).not.toContain('withdraw');
  });

  it('pays unbonded stake out after the delay to a worker that was not caught', async () => {
    const w = await api.worker('leaver', { stake: 25 });
    expect(await w.client.unstake(15)).toMatchObject({ stake: 25, unbonding: 15 });
    expect((await account(w.id)).balance).toBe(0);
    await expect.poll(async () => (await account(w.id)).balance, { timeout: UNBONDING_MS + 5000 }).toBe(15);
    expect(await account(w.id)).toMatchObject({ stake: 10, unbonding: 0 });
  });

  it('lets a provider stake and ask stake back from the command line, signed with its key file', async () => {
    const key = join(mkdtempSync(join(tmpdir(), 'farm-key-')), 'worker.key');
    const client = new WorkerClient(api.farm.url, await loadOrCreateIdentity(key));
    const { id: workerId } = await client.register('cli', DEVICE);
    expect((await api.operator('/api/credits', { account: workerId, amount: 40 })).status).toBe(201);
    const farm = async (...args: string[]) =>
      (await promisify(execFile)(process.execPath, [join(ROOT, 'bin/farm.js'), ...args, '--key', key, '--orchestrator', api.farm.url]))
        .stdout;
    expect(await farm('stake', '30')).toMatch(/^balance 10, stake 30 /);
    expect(await farm('unstake', '12')).toMatch(/stake 30 .*; 12 unbonding/);
    expect(await account(workerId)).toMatchObject({ balance: 10, stake: 30, unbonding: 12 });
  });
});

describe('signed requests', () => {
  it('refuse a replayed request with 409 and move the credits once', async () => {
    const w = await api.worker('replayer', { stake: 0 });
    await api.operator('/api/credits', { account: w.id, amount: 10 });
    const send = signed(w, 'POST', '/api/work/stake', JSON.stringify({ amount: 1 }));
    expect((await send()).status).toBe(200);
    for (let i = 0; i < 4; i++) {
      const again = await send();
      expect(again.status).toBe(409);
      expect(again.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await again.json()) as { title: string }).title).toBe('Replayed request');
    }
    expect(await account(w.id)).toMatchObject({ balance: 9, stake: 1 });
  });

  it('refuse the same signature written another way (no padding, stray bits, URL alphabet)', async () => {
    const w = await api.worker('re-encoder', { stake: 0 });
    await api.operator('/api/credits', { account: w.id, amount: 10 });
    const body = JSON.stringify({ amount: 1 });
    const { timestamp, signature, digest } = signRequest(
      w.identity.key,
      w.farmId,
      'POST',
      '/api/work/stake',
      new TextEncoder().encode(body),
    );
    const send = (sig: string) =>
      fetch(`${api.farm.url}/api/work/stake`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADERS.worker]: w.id,
          [SIGNATURE_HEADERS.timestamp]: timestamp,
          [SIGNATURE_HEADERS.signature]: sig,
          [SIGNATURE_HEADERS.body]: digest,
        },
      });
    expect((await send(signature)).status).toBe(200);
    // The last character before '==' carries 4 bits that decoders ignore.
    const last = signature[85];
    const strayBits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
      .replace(last, '')
      .split('')
      .find((c) => Buffer.from(`${signature.slice(0, 85)}${c}==`, 'base64').equals(Buffer.from(signature, 'base64')));
    expect(strayBits).toBeDefined();
    const variants = [
      signature.slice(0, 86),
      signature.replace(/\+/g, '-').replace(/\//g, '_'),
      `${signature.slice(0, 85)}${strayBits}==`,
      ` ${signature}`,
    ];
    for (const sig of variants) expect([401, 409]).toContain((await send(sig)).status);
    expect(await account(w.id)).toMatchObject({ balance: 9, stake: 1 });
  });

  it('refuse timestamps that are not plain milliseconds or are out of the window', async () => {
    const w = await api.worker('clock', { stake: 0 });
    for (const timestamp of ['abc', '1e12', ` ${Date.now()}`, '-1', String(Date.now() - 3_600_000), '']) {
      const res = await signed(w, 'POST', '/api/work/heartbeat', '{}', timestamp)();
      expect(res.status).toBe(401);
    }
  });
});

describe('registration', () => {
  it('accepts only Ed25519 keys, naming the field', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    for (const type of ['x25519', 'ec'] as const) {
      const { publicKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('x25519');
      const res = await fetch(`${api.farm.url}/api/workers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), name: 'odd', device: 'x' }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: { path: string }[] }).errors[0].path).toBe('publicKey');
    }
  });
});

describe('identities cost stake', () => {
  it('gives a key without the minimum stake no work, and a staked key no more than it may hold', async () => {
    const own = await startApiFarm({ stakePerReplica: 10, maxHeldReplicas: 3, spotCheckRate: 0, minStake: 100 });
    try {
      await own.operator('/api/jobs', { ...oneTileJob(1), width: 64, height: 64 });
      const free = await own.worker('free', { stake: 0 });
      await expect(free.client.next()).rejects.toMatchObject({ status: 409, title: 'Stake required' });
      // Enough for a replica, but under what an identity must stake.
      const thin = await own.worker('thin', { stake: 50 });
      await expect(thin.client.next()).rejects.toMatchObject({ status: 409, title: 'Stake required' });
      const greedy = await own.worker('greedy', { stake: 1000 });
      const held: Assignment[] = [];
      for (let i = 0; i < 6; i++) {
        const a = await greedy.client.next();
        if (a) held.push(a);
      }
      expect(held).toHaveLength(3);
      expect(await (await fetch(`${own.farm.url}/api/workers/${greedy.id}`)).json()).toMatchObject({ inFlight: 3, locked: 30 });
      // An honest worker still gets work while the greedy key sits on its share.
      const honest = await own.worker('honest', { stake: 100 });
      expect(await honest.client.next()).toBeDefined();
    } finally {
      await own.stop();
    }
  });
});
