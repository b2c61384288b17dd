/**
 * Test workers that speak the real protocol through worker/agent.ts (and calibrate honestly, as
 * any adversary would):
 * - rogue: renders, then returns wrong pixels (every tile gets a visible flaw);
 * - slow: renders honestly, then waits FARM_TEST_DELAY_MS before uploading;
 * - turncoat: honest for its first FARM_TEST_HONEST_FOR replicas, a rogue after;
 * - fragile: honest, but its renderer throws on any scene named "poison" (as a renderer bug that
 *   some scene triggers would).
 * FARM_OPERATOR_TOKEN makes it one of the operator's own; FARM_TEST_STAKE is staked on start;
 * FARM_TEST_ASK is its ask (`farm worker --ask`).
 * Usage: node --import tsx test/support/test-worker.ts <orchestrator> <name> <key file> <kind>
 */
import { pino } from 'pino';
import { startAgent } from '../../worker/agent.ts';
import { loadOrCreateIdentity } from '../../worker/identity.ts';
import { renderProducer } from '../../worker/render-producer.ts';

const [orchestrator, name, keyFile, kind] = process.argv.slice(2);
const delayMs = Number(process.env.FARM_TEST_DELAY_MS ?? 1000);
const honestFor = Number(process.env.FARM_TEST_HONEST_FOR ?? 6);
let produced = 0;
const honest = await renderProducer('webasm');
const log = pino({ level: process.env.LOG_LEVEL ?? 'error', base: { process: `${kind}-worker`, name } });

const agent = await startAgent({
  orchestrator,
  name,
  identity: await loadOrCreateIdentity(keyFile),
  log,
  operatorToken: process.env.FARM_OPERATOR_TOKEN,
  stake: Number(process.env.FARM_TEST_STAKE ?? 0) || undefined,
  ask: process.env.FARM_TEST_ASK === undefined ? undefined : Number(process.env.FARM_TEST_ASK),
  producer: {
    device: honest.device,
    async produce(order, scene, purpose) {
      if (kind === 'fragile' && scene.name === 'poison') throw new Error('kernel panic: out of registers');
      const rendered = await honest.produce(order, scene, purpose);
      if (purpose === 'calibration') return rendered;
      produced++;
      if (kind === 'rogue' || (kind === 'turncoat' && produced > honestFor)) {
        for (let i = 0; i < rendered.rgba.length; i += 4) rendered.rgba[i] = 255 - rendered.rgba[i];
      } else if (kind === 'slow') {
        await new Promise((r) => setTimeout(r, delayMs));
      }
      return rendered;
    },
  },
});
process.on('SIGTERM', () => agent.stop().finally(() => process.exit(0)));
await agent.done;
