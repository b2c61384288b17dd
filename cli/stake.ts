/** `farm stake|unstake`: a provider moves credits between its worker's balance and its stake (signed with its key). */
import { WorkerClient } from '../worker/client.ts';
import { loadIdentity } from '../worker/identity.ts';

export function stakeCommand(direction: 'stake' | 'unstake') {
  return async (credits: string, flags: { orchestrator: string; key: string }): Promise<void> => {
    const client = new WorkerClient(flags.orchestrator.replace(/\/$/, ''), await loadIdentity(flags.key));
    const amount = Number(credits);
    const account = direction === 'stake' ? await client.stake(amount) : await client.unstake(amount);
    const then = direction === 'unstake' ? `; ${account.unbonding} unbonding (paid back to the balance when it has stood unbonding)` : '';
    process.stdout.write(`balance ${account.balance}, stake ${account.stake} (${account.locked} locked behind replicas)${then}\n`);
  };
}
