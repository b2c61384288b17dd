import { Redis } from 'ioredis';
import { keys } from './orchestrator/state/keys.ts';
import { startApiFarm } from './test/support/orchestrator.ts';
import { shippedRaw } from './test/support/scenes.ts';

const api = await startApiFarm({ spotCheckRate: 0, logLevel: 'warn' });
const redis = new Redis(api.redisUrl);
try {
  const scene = shippedRaw('bounce');
  scene.animation.frameCount = 10_000;
  const res = await api.operator('/api/jobs', { scene, width: 8, height: 8, spp: 1, tileSize: 8, verification: 'quorum', replicas: 1 });
  const { id } = (await res.json()) as { id: string };
  for (let i = 0; i < 100; i++) {
    if ((await (await api.operator(`/api/jobs/${id}`)).json()).state === 'running') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log('running', await redis.scard(keys.jobPending(id)), await redis.llen('bull:slots:wait'));
  const t0 = Date.now();
  const c = await fetch(`${api.farm.url}/api/jobs/${id}`, {
    method: 'DELETE',
    headers: { authorization: 'Bearer operator-token-for-tests' },
  });
  console.log('cancel', c.status, Date.now() - t0, 'ms');
  for (let i = 0; i < 30; i++) {
    console.log(i, await redis.scard(keys.jobPending(id)), await redis.llen('bull:slots:wait'));
    await new Promise((r) => setTimeout(r, 1000));
    if ((await redis.scard(keys.jobPending(id))) === 0) break;
  }
} finally {
  redis.disconnect();
  await api.stop();
}
