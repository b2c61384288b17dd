/** The public reputation leaderboard, sortable by the orchestrator (GET /api/workers). */
import { useEffect, useState } from 'preact/hooks';
import type { Leaderboard, WorkerWithRecent } from '../../../shared/protocol.ts';
import { api } from '../api.ts';
import { lastHour, RecentThroughput } from '../components/recent-throughput.tsx';
import { credits, dateTime } from '../format.ts';
import { href } from '../router.ts';

type SortKey = 'credibility' | 'valid' | 'invalid' | 'timedOut' | 'rejected' | 'faults' | 'lastSeen';

const COLUMNS: { key: SortKey; label: string; title: string }[] = [
  { key: 'credibility', label: 'Credibility', title: 'Probability that its next result is right (Sarmenta)' },
  { key: 'valid', label: 'Valid', title: 'Results that agreed with the verdict' },
  { key: 'invalid', label: 'Invalid', title: 'Results outvoted or caught' },
  { key: 'timedOut', label: 'Timed out', title: 'Replicas it did not finish in time' },
  { key: 'rejected', label: 'Rejected', title: 'Uploads refused: forged hash, wrong size, not its replica' },
  { key: 'faults', label: 'Faults', title: 'Times caught returning a wrong result' },
  { key: 'lastSeen', label: 'Last seen', title: 'Last heartbeat or request' },
];

export function WorkersPage() {
  const [sort, setSort] = useState<{ key: SortKey; order: 'asc' | 'desc' }>({ key: 'credibility', order: 'desc' });
  const [board, setBoard] = useState<Leaderboard>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<Leaderboard>(`/api/workers?sort=${sort.key}&order=${sort.order}&limit=200`).then(setBoard, (e) => setError(String(e)));
  }, [sort]);
  const by = (key: SortKey) => setSort((s) => ({ key, order: s.key === key && s.order === 'desc' ? 'asc' : 'desc' }));
  return (
    <section class="card">
      <h1>Workers</h1>
      <p class="muted">
        Every provider's public record. Credibility is earned only by checks against ground truth (the operator's trusted workers' results,
        and known-answer tiles): a newcomer's results count for nothing until it passes some. Caught workers lose their stake and their
        credibility.
      </p>
      {error && <p class="error">{error}</p>}
      {board && <RecentThroughput workers={board.workers} />}
      {board && (
        <table class="workers" data-testid="leaderboard">
          <thead>
            <tr>
              <th>Worker</th>
              {COLUMNS.map((c) => (
                <th key={c.key} title={c.title}>
                  <button type="button" class="link" onClick={() => by(c.key)}>
                    {c.label}
                    {sort.key === c.key ? (sort.order === 'desc' ? ' ▼' : ' ▲') : ''}
                  </button>
                </th>
              ))}
              <th title="Checks against ground truth passed since the last fault">Checks</th>
              <th title="Results accepted in the last hour">Last hour</th>
              <th>Balance</th>
              <th>Stake</th>
            </tr>
          </thead>
          <tbody>
            {board.workers.map((w) => (
              <WorkerRow key={w.id} w={w} />
            ))}
          </tbody>
        </table>
      )}
      {board?.total === 0 && <p class="muted">No worker has registered yet.</p>}
    </section>
  );
}

function WorkerRow({ w }: { w: WorkerWithRecent }) {
  return (
    <tr data-worker={w.id} data-name={w.name}>
      <td>
        <span class={`dot ${w.online ? 'on' : 'off'}`} title={w.online ? 'online' : 'offline'} /> <a href={href.worker(w.id)}>{w.name}</a>
        {w.trusted && (
          <span class="badge" title="run by the operator">
            trusted
          </span>
        )}
        <div class="muted small">
          {w.class ?? w.classState} · {w.device}
        </div>
      </td>
      <td>{w.credibility.toFixed(4)}</td>
      <td data-field="valid">{w.valid}</td>
      <td data-field="invalid">{w.invalid}</td>
      <td data-field="timedOut">{w.timedOut}</td>
      <td data-field="rejected">{w.rejected}</td>
      <td data-field="faults">{w.faults}</td>
      <td>{dateTime(w.lastSeen)}</td>
      <td>{w.passed}</td>
      <td data-field="recent">{lastHour(w)}</td>
      <td>{credits(w.balance)}</td>
      <td>{credits(w.stake)}</td>
    </tr>
  );
}
