/** `farm jobs delete`: deletes a job and its data (cancelling it first if it still runs). */
import { JobDeletion } from '../shared/protocol.ts';
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
