/** `farm worker`: joins a farm and renders what it is given. */
import { pino } from 'pino';
import { z } from 'zod';
import { MAX_BATCH } from '../shared/protocol.ts';
import { startAgent } from '../worker/agent.ts';
import { orchestratorUrl, WorkerClient } from '../worker/client.ts';
import { loadOrCreateIdentity } from '../worker/identity.ts';
import type { BackendChoice } from '../worker/render/backend.ts';
import { renderProducer } from '../worker/render-producer.ts';
import { onShutdown } from './shutdown.ts';
import { workerTerminal } from './worker-terminal.ts';

export interface WorkerFlags {
  orchestrator?: string;
  name?: string;
  backend: BackendChoice;
  key: string;
  operatorToken?: string;
  stake?: string;
  ask?: string;
  capacity: string;
  json?: boolean;
}

export async function workerCommand(flags: WorkerFlags): Promise<void> {
  const urls = flags.orchestrator ?? process.env.FARM_URL;
  if (!urls) throw new Error('--orchestrator (or FARM_URL): the farm to join, e.g. http://farm.example:8080');
  const orchestrators = urls.split(',').map(orchestratorUrl);
  const capacity = z.coerce.number().int().min(1).max(MAX_BATCH).safeParse(flags.capacity);
  if (!capacity.success) throw new Error(`--capacity: a whole number from 1 to ${MAX_BATCH}, not ${flags.capacity}`);
  const identity = await loadOrCreateIdentity(flags.key);
  const name = flags.name ?? `worker-${identity.id.slice(1, 7)}`;
  const producer = await renderProducer(flags.backend);
  // A person at a terminal reads a status line; a pipe, a file or --json gets pino's JSON lines.
  const records = new WorkerClient(orchestrators, identity);
  const terminal =
    process.stdout.isTTY && !flags.json ? workerTerminal(process.stdout, producer.device, () => records.record()) : undefined;
  const options = { level: process.env.LOG_LEVEL ?? 'info', base: { process: 'worker', worker: identity.id, name } };
  const log = terminal ? pino(options, terminal.logStream) : pino(options);
  if (producer.fallback) log.warn(producer.fallback);
  const operatorToken = flags.operatorToken ?? process.env.FARM_OPERATOR_TOKEN;
  try {
    const agent = await startAgent({
      orchestrator: orchestrators,
      identity,
      name,
      producer,
      log,
      operatorToken,
      stake: flags.stake ? Number(flags.stake) : undefined,
      ask: flags.ask === undefined ? undefined : Number(flags.ask),
      capacity: capacity.data,
      onEvent: terminal?.event,
    });
    // Its id is what the operator grants credits to and what the farm's pages list it by.
    terminal?.say(`joined ${orchestrators.join(', ')} as ${agent.id} (${name}), key ${flags.key}`);
    onShutdown(
      async () => {
        await agent.stop();
        terminal?.close();
      },
      terminal?.say ?? ((line) => log.info(line)),
    );
    await agent.done;
  } finally {
    terminal?.close();
  }
}
