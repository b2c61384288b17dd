/**
 * What a requester can do to its job from its page: pause or resume it, set its priority (0–100;
 * above 50 only the operator may), raise its budget (from its owner's balance), cancel it, delete it with its data once it has ended, and have
 * a trusted worker render tiles again. A refusal (a limit, no trusted worker online) is shown
 * where it was asked for.
 */
import { useState } from 'preact/hooks';
import { DEFAULT_PRIORITY, type JobStatus, type Rerun } from '../../../shared/protocol.ts';
import { ApiError, api } from '../api.ts';
import { href, navigate } from '../router.ts';

const jobPath = (id: string) => `/api/jobs/${encodeURIComponent(id)}`;
const messageOf = (e: unknown) => (e instanceof ApiError ? (e.problem.detail ?? e.problem.title) : String(e));

export function JobControls({ status }: { status: JobStatus }) {
  const [error, setError] = useState<string>();
  const act = (path: string, init: { method?: string; body?: unknown } = { method: 'POST' }) =>
    api(path, init).then(
      () => setError(undefined),
      (e) => setError(messageOf(e)),
    );
  const failure = error && (
    <span class="error" data-testid="control-error">
      {error}
    </span>
  );
  if (status.state !== 'queued' && status.state !== 'running')
    return (
      <div class="row job-controls">
        <button
          type="button"
          class="secondary"
          onClick={() =>
            confirm('Delete this job, its frames and its tiles?') &&
            api(`${jobPath(status.id)}?purge`, { method: 'DELETE' }).then(
              () => navigate(href.jobs()),
              (e) => setError(messageOf(e)),
            )
          }
        >
          Delete job and its data
        </button>
        {failure}
      </div>
    );
  return (
    <div class="row job-controls">
      <button type="button" class="secondary" onClick={() => act(`${jobPath(status.id)}/${status.paused ? 'resume' : 'pause'}`)}>
        {status.paused ? 'Resume' : 'Pause'}
      </button>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          // What the field holds as the form is sent, not the last render's copy of it.
          const priority = Number(new FormData(e.currentTarget).get('priority'));
          void act(`${jobPath(status.id)}/priority`, { body: { priority } });
        }}
      >
        <label title={`which of your jobs at one price goes first; above ${DEFAULT_PRIORITY} only the operator may set`}>
          Priority <input name="priority" type="number" min={0} max={100} defaultValue={String(status.priority)} style={{ width: '5em' }} />
        </label>{' '}
        <button type="submit" class="secondary">
          Set
        </button>
      </form>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          const budget = Number(new FormData(e.currentTarget).get('budget'));
          void act(`${jobPath(status.id)}/budget`, { method: 'PUT', body: { budget } });
        }}
      >
        <label title="what you have in the job, held or paid out of its escrow: raising it holds the difference from your balance">
          Budget <input name="budget" type="number" min={0} step="any" defaultValue={String(status.cost.budget)} style={{ width: '7em' }} />{' '}
          credits
        </label>{' '}
        <button type="submit" class="secondary">
          Raise
        </button>
      </form>
      <button type="button" class="secondary" onClick={() => act(jobPath(status.id), { method: 'DELETE' })}>
        Cancel job
      </button>
      {failure}
    </div>
  );
}

/** Re-runs one tile (`task`) or every tile of a frame that may be (rerun.ts says which may). */
export function RerunButton({ job, frame, task, label }: { job: string; frame?: number; task?: string; label: string }) {
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const path = task === undefined ? `${jobPath(job)}/frames/${frame}/rerun` : `${jobPath(job)}/tasks/${encodeURIComponent(task)}/rerun`;
  return (
    <span class="rerun">
      <button
        type="button"
        class="secondary"
        title="a trusted worker renders it again, and its result replaces the verdict"
        onClick={() =>
          api<Rerun>(path, { method: 'POST' }).then(
            (r) => setOutcome({ ok: true, text: `${r.reopened.length} tile(s) sent to a trusted worker` }),
            (e) => setOutcome({ ok: false, text: messageOf(e) }),
          )
        }
      >
        {label}
      </button>
      {outcome && (
        <span class={outcome.ok ? 'muted' : 'error'} data-testid="rerun-outcome">
          {' '}
          {outcome.text}
        </span>
      )}
    </span>
  );
}
