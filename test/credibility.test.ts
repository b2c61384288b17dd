/**
 * Credibility after a worker is caught: checks of work handed out before it was caught (their
 * verdicts can come later) no longer count, so a caught worker's k stays at zero.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Assignment, WorkerView } from '../shared/protocol.ts';
import { type ApiFarm, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm({ stakePerReplica: 5 });
});
afterAll(() => api.stop());

const view = async (id: string) => (await (await fetch(`${api.farm.url}/api/workers/${id}`)).json()) as WorkerView;

it('counts no check of work handed out before the worker was caught, however late its verdict', async () => {
  const truth = await api.worker('truth', { trusted: true });
  const w = await api.worker('two-faced', { stake: 20 });
  await api.operator('/api/jobs', oneTileJob(2));
  const early = (await w.client.next()) as Assignment;
  await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90); // waits for w's twin
  await api.operator('/api/jobs', { ...oneTileJob(2), spp: 2 });
  const lie = (await w.client.next()) as Assignment;
  await uploadShade(truth.client, (await truth.client.next()) as Assignment, 90);
  await uploadShade(w.client, lie, 3);
  expect(await view(w.id)).toMatchObject({ faults: 1, passed: 0 });
  // Its honest answer to the earlier replica agrees with the trusted worker's: a check, but of
  // work from before it was caught.
  await uploadShade(w.client, early, 90);
  await expect.poll(async () => (await view(w.id)).valid, { timeout: 5000 }).toBe(1);
  expect(await view(w.id)).toMatchObject({ faults: 1, passed: 0 });
});
