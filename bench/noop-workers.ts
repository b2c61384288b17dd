/**
 * bench:farm's workers: N no-op agents (noop-producer.ts) in one process, each taking `capacity`
 * replicas a batch.
 * Usage: node --import tsx bench/noop-workers.ts <orchestrator,…> <count> [capacity]
 */
import { pino } from 'pino';
import { startNoopAgent } from './noop-producer.ts';

const [orchestrators, count, capacity = '1'] = process.argv.slice(2);
const log = pino({ level: 'error' });
const agents = await Promise.all(
  Array.from({ length: Number(count) }, (_, i) => startNoopAgent(orchestrators.split(','), i, log, { capacity: Number(capacity) })),
);
process.on('SIGTERM', () => Promise.all(agents.map((a) => a.stop())).finally(() => process.exit(0)));
