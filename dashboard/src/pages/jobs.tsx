/**
 * Home: submit a render, and the jobs this token can see, kept current by server-sent events:
 * each with a thumbnail of its first frame and how long it took, filtered by state (and, for the
 * operator, by requester), a page at a time.
 */
import { useEffect, useState } from 'preact/hooks';
import { JOB_EVENTS, JobState, type JobSummary } from '../../../shared/protocol.ts';
import { api } from '../api.ts';
import { ProgressBar } from '../components/progress-bar.tsx';
import { SubmitForm } from '../components/submit-form.tsx';
import { dateTime, duration } from '../format.ts';
import { LIVE_REFUSED } from '../live.ts';
import { href, navigate } from '../router.ts';
import type { Principal } from '../session.ts';

/** Jobs asked for at a time. */
const PAGE = 50;

export function JobsPage({ principal }: { principal: Principal }) {
  const [jobs, setJobs] = useState<JobSummary[]>();
  const [error, setError] = useState<string>();
  const [state, setState] = useState<JobSummary['state'] | ''>('');
  const [owner, setOwner] = useState('');
  const [more, setMore] = useState(false);
  const owners = useRequesters(principal);
  const page = (offset: number) =>
    api<{ jobs: JobSummary[] }>(`/api/jobs?offset=${offset}&limit=${PAGE}${owner ? `&owner=${owner}` : ''}`).then((r) => {
      setMore(r.jobs.length === PAGE);
      return r.jobs;
    });
  useEffect(() => {
    setJobs(undefined);
    const source = new EventSource('/api/jobs/events');
    // (Re)connected: load the list, then each event replaces or adds one row.
    source.onopen = () => page(0).then(setJobs, (e) => setError(String(e)));
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) setError(LIVE_REFUSED);
    };
    source.addEventListener(JOB_EVENTS.job, (e) => {
      const job = JSON.parse((e as MessageEvent).data) as JobSummary;
      if (owner && job.owner !== owner) return;
      setJobs((list) => [job, ...(list ?? []).filter((j) => j.id !== job.id)].sort((a, b) => b.createdAt - a.createdAt));
    });
    return () => source.close();
  }, [owner]);
  return (
    <>
      <SubmitForm onSubmitted={(id) => navigate(href.job(id))} />
      <section class="card">
        <h2>Jobs</h2>
        {error && <p class="error">{error}</p>}
        {jobs?.length === 0 && <p class="muted">No jobs yet.</p>}
        {owners && (
          <label>
            Requester{' '}
            <select name="owner-filter" value={owner} onChange={(e) => setOwner(e.currentTarget.value)}>
              <option value="">everyone</option>
              {owners.map((o) => (
                <option key={o.owner} value={o.owner}>
                  {o.name} ({o.owner})
                </option>
              ))}
            </select>
          </label>
        )}{' '}
        {jobs && jobs.length > 0 && (
          <label>
            Show{' '}
            <select name="state-filter" value={state} onChange={(e) => setState(e.currentTarget.value as JobSummary['state'] | '')}>
              <option value="">all jobs</option>
              {JobState.options.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        )}
        {jobs && jobs.length > 0 && (
          <table class="jobs">
            <thead>
              <tr>
                <th />
                <th>Job</th>
                <th>State</th>
                <th>Tiles verified</th>
                <th>Frames</th>
                <th>Size</th>
                <th>Submitted</th>
                <th>Took</th>
              </tr>
            </thead>
            <tbody>
              {jobs
                .filter((j) => !state || j.state === state)
                .map((j) => (
                  <tr key={j.id} data-job={j.id}>
                    <td class="thumb">{j.thumbnail && <img src={j.thumbnail} alt="" loading="lazy" data-testid="thumbnail" />}</td>
                    <td>
                      <a href={href.job(j.id)}>{j.name}</a> <code class="muted">{j.id}</code>
                    </td>
                    <td>
                      <span class={`badge job-${j.state}`}>{j.state}</span>
                    </td>
                    <td>
                      <ProgressBar done={j.tilesVerified} total={j.tilesTotal} label={`${j.tilesVerified}/${j.tilesTotal}`} />
                    </td>
                    <td>
                      {j.framesDone}/{j.frameCount}
                    </td>
                    <td>
                      {j.width}×{j.height}
                    </td>
                    <td>{dateTime(j.createdAt)}</td>
                    <td data-took>{j.finishedAt === null ? '' : duration(j.finishedAt - j.createdAt)}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
        {jobs && more && (
          <button
            type="button"
            class="secondary"
            onClick={() =>
              page(jobs.length).then(
                (next) => setJobs([...jobs, ...next.filter((n) => !jobs.some((j) => j.id === n.id))]),
                (e) => setError(String(e)),
              )
            }
          >
            Older jobs
          </button>
        )}
      </section>
    </>
  );
}

/** The farm's requesters, for the operator's filter (undefined for a requester: it sees only its own jobs). */
function useRequesters(principal: Principal): Principal[] | undefined {
  const [owners, setOwners] = useState<Principal[]>();
  useEffect(() => {
    if (principal.role !== 'operator') return;
    api<{ tokens: Principal[] }>('/api/tokens').then(
      (r) => setOwners(r.tokens),
      () => undefined,
    );
  }, [principal.role]);
  return owners;
}
