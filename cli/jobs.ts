/** `farm jobs delete|pause|resume|priority|budget|rerun`: a requester's controls over its jobs. */
import { formatCredits } from '../shared/money.ts';
import { JobDeletion, JobStatus, Rerun } from '../shared/protocol.ts';
import { RequesterClient } from './requester.ts';

export async function jobsDelete(id: string, flags: { orchestrator: string; token?: string }): Promise<void> {
  const client = RequesterClient.fromFlags(flags);
  const answer = JobDeletion.parse(await (await client.call('DELETE', `/api/jobs/${encodeURIComponent(id)}?purge`)).json());
  console.log(
    answer.deleted
      ? `job ${id} (${answer.state}) deleted; its blobs go with the next collection`
      : `job ${id} ${answer.state}; it is deleted as soon as its workers have let go`,
  );
}

/** `farm jobs pause|resume`: holds the job's tiles not yet handed out, or releases them. */
export function jobsControl(action: 'pause' | 'resume') {
  return async (id: string, flags: { orchestrator: string; token?: string }): Promise<void> => {
    const status = JobStatus.parse(
      await (await RequesterClient.fromFlags(flags).call('POST', `/api/jobs/${encodeURIComponent(id)}/${action}`)).json(),
    );
    console.log(status.paused ? `job ${id} paused: no new tiles go out; what is out carries on` : `job ${id} resumed`);
  };
}

/** `farm jobs priority`: which of its jobs at one price goes first (0–100; above 50 the operator only). */
export async function jobsPriority(id: string, priority: string, flags: { orchestrator: string; token?: string }): Promise<void> {
  const client = RequesterClient.fromFlags(flags);
  const status = JobStatus.parse(
    await (await client.call('POST', `/api/jobs/${encodeURIComponent(id)}/priority`, { priority: Number(priority) })).json(),
  );
  console.log(`job ${id}: priority ${status.priority}`);
}

/** `farm jobs budget`: what its owner has in the job, raised (the difference is held from the balance). */
export async function jobsBudget(id: string, budget: string, flags: { orchestrator: string; token?: string }): Promise<void> {
  const client = RequesterClient.fromFlags(flags);
  const { cost } = JobStatus.parse(
    await (await client.call('PUT', `/api/jobs/${encodeURIComponent(id)}/budget`, { budget: Number(budget) })).json(),
  );
  console.log(
    `job ${id}: budget ${formatCredits(cost.budget)} credits, ${formatCredits(cost.held)} of them held, ${formatCredits(cost.spent)} spent`,
  );
}

/** `farm jobs rerun`: a trusted worker renders a verified tile (or a frame's tiles) again. */
export async function jobsRerun(id: string, flags: { orchestrator: string; token?: string; frame?: string; tile?: string }): Promise<void> {
  if ((flags.frame === undefined) === (flags.tile === undefined)) throw new Error('give either --frame <n> or --tile <task id>');
  const what = flags.tile === undefined ? `frames/${Number(flags.frame)}` : `tasks/${encodeURIComponent(flags.tile)}`;
  const client = RequesterClient.fromFlags(flags);
  const { reopened } = Rerun.parse(await (await client.call('POST', `/api/jobs/${encodeURIComponent(id)}/${what}/rerun`)).json());
  console.log(`job ${id}: ${reopened.length} tile(s) go to a trusted worker to be rendered again: ${reopened.join(', ')}`);
}
