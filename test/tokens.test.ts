/**
 * Token management: the operator mints, lists and revokes requester tokens (API and `farm tokens`);
 * a revoked token is refused from the next request on, through its session cookie too, and its
 * webhooks are deleted with it; the operator token is not the API's to revoke, but one FARM_TOKEN
 * replaced is revoked; and an orchestrator started without FARM_TOKEN keeps the token it generated
 * across restarts instead of leaving a new valid one behind each time.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../cli/redis-server.ts';
import { OrchestratorConfig } from '../orchestrator/config.ts';
import { startOrchestrator } from '../orchestrator/server.ts';
import { keys } from '../orchestrator/state/keys.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { WorkerClient } from '../worker/client.ts';
import { type ApiFarm, OPERATOR_TOKEN, startApiFarm, TEST_SETTINGS } from './support/orchestrator.ts';
import { problem } from './support/problem.ts';
import { ROOT } from './support/scenes.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm();
});
afterAll(() => api.stop());

const as = (token: string, path: string, init: RequestInit = {}) =>
  fetch(`${api.farm.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
const farmCli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [join(ROOT, 'bin/farm.js'), 'tokens', ...args, '--orchestrator', api.farm.url], {
    env: { ...process.env, FARM_TOKEN: OPERATOR_TOKEN },
  });

describe('tokens', () => {
  it('mints, lists and revokes; a revoked token and its session are refused at once', async () => {
    const { stdout } = await farmCli('create', 'artist');
    const token = stdout.trim().split('\n').pop() as string;
    expect(token).toMatch(/^farm_/);
    expect((await as(token, '/api/jobs')).status).toBe(200);
    const session = await fetch(`${api.farm.url}/api/session`, {
      method: 'POST',
      body: JSON.stringify({ token }),
      headers: { 'content-type': 'application/json' },
    });
    const cookie = (session.headers.get('set-cookie') ?? '').split(';')[0];
    expect((await fetch(`${api.farm.url}/api/jobs`, { headers: { cookie } })).status).toBe(200);

    const listed = (await (await as(OPERATOR_TOKEN, '/api/tokens')).json()) as { tokens: { owner: string; name: string; role: string }[] };
    const artist = listed.tokens.find((t) => t.name === 'artist');
    expect(artist).toMatchObject({ role: 'requester', owner: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(JSON.stringify(listed)).not.toContain(token);
    expect((await farmCli('list')).stdout).toMatch(new RegExp(`\\| ${artist?.owner} \\| artist +\\| requester \\|`));

    expect((await farmCli('revoke', artist?.owner as string)).stdout).toMatch(/revoked/);
    await problem(await as(token, '/api/jobs'), 401);
    await problem(await fetch(`${api.farm.url}/api/jobs`, { headers: { cookie } }), 401);
    await problem(await as(OPERATOR_TOKEN, `/api/tokens/${artist?.owner}`, { method: 'DELETE' }), 404);
  });

  it("deletes a revoked token's webhooks: its jobs' events go nowhere any more", async () => {
    const { token, owner } = (await (await api.operator('/api/tokens', { name: 'hooked' })).json()) as { token: string; owner: string };
    const added = await as(token, '/api/webhooks', {
      method: 'POST',
      body: JSON.stringify({ url: 'https://8.8.8.8/hook' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(added.status).toBe(201);
    const { id } = (await added.json()) as { id: string };
    const redis = new Redis(api.redisUrl);
    try {
      expect(await redis.exists(keys.webhook(id), keys.webhooksOf(owner))).toBe(2);
      expect((await as(OPERATOR_TOKEN, `/api/tokens/${owner}`, { method: 'DELETE' })).status).toBe(200);
      expect(await redis.exists(keys.webhook(id), keys.webhooksOf(owner))).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('only the operator manages tokens, and its own token is not revocable here', async () => {
    const minted = (await (await api.operator('/api/tokens', { name: 'someone' })).json()) as { token: string };
    await problem(await as(minted.token, '/api/tokens'), 403);
    await problem(
      await as(minted.token, '/api/tokens', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }),
      403,
    );
    const { tokens } = (await (await as(OPERATOR_TOKEN, '/api/tokens')).json()) as { tokens: { owner: string; role: string }[] };
    const operator = tokens.find((t) => t.role === 'operator');
    expect((await problem(await as(OPERATOR_TOKEN, `/api/tokens/${operator?.owner}`, { method: 'DELETE' }), 409)).detail).toMatch(
      /FARM_TOKEN/,
    );
    expect((await problem(await as(OPERATOR_TOKEN, '/api/tokens/x', { method: 'DELETE' }), 400)).errors?.[0].path).toBe('owner');
    expect((await problem(await api.operator('/api/tokens', { name: '' }), 400)).errors?.[0].path).toBe('name');
  });

  it('revokes the operator token FARM_TOKEN replaced, on every orchestrator of the farm, at the first start with the new one', async () => {
    // The API may not revoke an operator token, so a leaked one had kept the operator's power
    // (trusted workers: ground truth) for good after the rotation meant to end it.
    const redis = await startRedisServer({ dir: join(api.dir, 'redis-rotated') });
    const config = (token: string, dir: string) =>
      OrchestratorConfig.parse({ port: 0, redisUrl: redis.url, dataDir: join(api.dir, dir), token, ...TEST_SETTINGS });
    const old = await startOrchestrator(config('leaked-operator-token', 'rotated-a'));
    const tokensAs = (url: string, token: string) => fetch(`${url}/api/tokens`, { headers: { authorization: `Bearer ${token}` } });
    expect((await tokensAs(old.url, 'leaked-operator-token')).status).toBe(200);
    // A key the leaked token registered as the operator's: ground truth, until the rotation.
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    const planted = new WorkerClient(old.url, { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer });
    await planted.register('planted', 'webasm:test', 'leaked-operator-token');
    const trusted = async () =>
      ((await (await fetch(`${old.url}/api/workers/${workerIdOf(publicKeyDer)}`)).json()) as { trusted: boolean }).trusted;
    expect(await trusted()).toBe(true);
    // A name no Lua script can read (a lone surrogate) is refused now; one minted before must not stop the rotation.
    const mint = (name: string) =>
      fetch(`${old.url}/api/tokens`, {
        method: 'POST',
        headers: { authorization: 'Bearer leaked-operator-token', 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
    expect((await problem(await mint('\ud800'), 400)).errors?.[0].path).toBe('name');
    const direct = new Redis(redis.url);
    await direct.hset(keys.tokens, 'a-digest-of-an-older-release', JSON.stringify({ owner: 'x', role: 'requester', name: '\ud800' }));
    direct.disconnect();
    const rotated = await startOrchestrator(config('new-operator-token', 'rotated-b'));
    try {
      for (const url of [old.url, rotated.url]) expect((await tokensAs(url, 'leaked-operator-token')).status).toBe(401);
      const listed = (await (await tokensAs(old.url, 'new-operator-token')).json()) as { tokens: { role: string }[] };
      expect(listed.tokens.filter((t) => t.role === 'operator')).toHaveLength(1);
      expect(await trusted()).toBe(false);
      // An orchestrator started with the settings the rotation replaced may not bring it back.
      await expect(startOrchestrator(config('leaked-operator-token', 'rotated-c'))).rejects.toThrow(/replaced by a newer one/);
      expect((await tokensAs(rotated.url, 'new-operator-token')).status).toBe(200);
    } finally {
      await Promise.all([old.close(), rotated.close()]);
      await redis.stop();
    }
  });

  it('keeps the operator token it generated across restarts when FARM_TOKEN is unset', async () => {
    const redis = await startRedisServer({ dir: join(api.dir, 'redis-own') });
    const dataDir = join(api.dir, 'own-data');
    const config = OrchestratorConfig.parse({ port: 0, redisUrl: redis.url, dataDir, ...TEST_SETTINGS });
    const first = await startOrchestrator(config);
    const token = readFileSync(join(dataDir, 'operator-token'), 'utf8').trim();
    expect(first.token).toBe(token);
    expect(statSync(join(dataDir, 'operator-token')).mode & 0o777).toBe(0o600);
    await first.close();
    const second = await startOrchestrator(config);
    expect(second.token).toBe(token);
    const res = await fetch(`${second.url}/api/tokens`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await res.json()) as { tokens: { role: string }[] }).tokens.filter((t) => t.role === 'operator')).toHaveLength(1);
    await second.close();
    await redis.stop();
  });
});
