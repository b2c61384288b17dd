/** `farm jobs delete|pause|resume`: a requester's controls over its jobs. */
import { JobDeletion, JobStatus } from '../shared/protocol.ts';
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
