/** One worker's evidence: its record, its class, the disagreements behind its score, its ledger. */
import { useEffect, useState } from 'preact/hooks';
import type { MarketIndex } from '../../../shared/market.ts';
import type { EvidenceEntry, LedgerPage, WorkerDetail } from '../../../shared/protocol.ts';
import { api } from '../api.ts';
import { Fact } from '../components/fact.tsx';
import { RecentThroughput } from '../components/recent-throughput.tsx';
import { credits, dateTime, shortCid } from '../format.ts';
import { href } from '../router.ts';

const EVIDENCE: Record<EvidenceEntry['kind'], string> = {
  outvoted: 'caught: its result differed from ground truth',
  disagreed: 'disagreed with the accepted result (no ground truth: no fault)',
  'outvoted-others': 'its result, with ground truth, beat others',
};

const CLASS_STATES: Record<WorkerDetail['classState'], string> = {
  calibrating: 'calibrating',
  unclassified: 'calibrated, waiting for an established class',
  established: 'in an established class',
  provisional: 'provisional class: checks only',
  refused: 'calibration refused',
};

export function WorkerPage({ id }: { id: string }) {
  const [worker, setWorker] = useState<WorkerDetail>();
  const [ledger, setLedger] = useState<LedgerPage>();
  const [index, setIndex] = useState<MarketIndex>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    const path = `/api/workers/${encodeURIComponent(id)}`;
    api<WorkerDetail>(path).then(setWorker, (e) => setError(String(e)));
    api<LedgerPage>(`${path}/ledger?limit=200`).then(setLedger, (e) => setError(String(e)));
    api<MarketIndex>('/api/market/index').then(setIndex, () => undefined);
  }, [id]);
  if (error) return <p class="error">{error}</p>;
  if (!worker) return <p class="muted">Loading…</p>;
  const w = worker;
  return (
    <>
      <section class="card">
        <p>
          <a href={href.workers()}>← all workers</a>
        </p>
        <h1>
          {w.name} {w.trusted && <span class="badge">trusted</span>} <span class={`dot ${w.online ? 'on' : 'off'}`} />
        </h1>
        <p class="muted">
          <code>{w.id}</code> · says it runs on {w.device} · class <code>{w.class ?? '—'}</code> ({CLASS_STATES[w.classState]}) · registered{' '}
          {dateTime(w.registeredAt)} · last seen {dateTime(w.lastSeen)}
        </p>
        <dl class="facts" data-testid="worker-facts">
          <Fact label="Credibility" value={w.credibility.toFixed(5)} />
          <Fact label="Valid" value={w.valid} field="valid" />
          <Fact label="Invalid" value={w.invalid} field="invalid" />
          <Fact label="Timed out" value={w.timedOut} />
          <Fact label="Rejected uploads" value={w.rejected} />
          <Fact label="Faults" value={w.faults} />
          <Fact label="Checks against ground truth passed" value={w.passed} />
          <Fact label="Balance" value={credits(w.balance)} />
          <Fact label="Stake" value={credits(w.stake)} />
          <Fact label="Stake backing replicas" value={credits(w.locked)} />
          <Fact label="Stake unbonding" value={credits(w.unbonding)} />
          <Fact label="Collateral (forward capacity)" value={credits(w.collateral)} />
          <Fact label="Ask" value={w.ask === null ? 'none: any price' : `${w.ask} credits/RU`} field="ask" />
          <Fact label="Earned (fees deducted)" value={`${credits(w.earned)} for ${w.ru.toPrecision(3)} RU`} field="earned" />
          <Fact
            label="Earned per RU, against the index"
            value={`${w.ru > 0 ? (w.earned / w.ru).toFixed(3) : '—'} vs ${index?.price == null ? '—' : index.price.toFixed(3)}${index?.thin ? ' (thin)' : ''}`}
            field="earned-vs-index"
          />
        </dl>
      </section>
      <section class="card">
        <RecentThroughput workers={[w]} />
      </section>
      <section class="card">
        <h2>Evidence</h2>
        {w.evidence.length === 0 ? (
          <p class="muted">No disagreements yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>When</th>
                <th>What</th>
                <th>Tile</th>
                <th>Its result</th>
                <th>Against</th>
              </tr>
            </thead>
            <tbody>
              {w.evidence.map((e) => (
                <tr key={`${e.at}.${e.task}.${e.kind}`} class={e.kind === 'outvoted' ? 'bad' : ''}>
                  <td>{dateTime(e.at)}</td>
                  <td>{EVIDENCE[e.kind] ?? e.kind}</td>
                  <td>
                    <a href={href.job(e.task.split('.')[0])}>
                      <code>{e.task}</code>
                    </a>
                  </td>
                  <td>
                    <code title={e.cid}>{shortCid(e.cid)}</code>
                  </td>
                  <td>{e.against ? `${e.against.length} worker(s)` : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card">
        <h2>Ledger</h2>
        {!ledger || ledger.entries.length === 0 ? (
          <p class="muted">No credit movements yet.</p>
        ) : (
          <>
            {ledger.total > ledger.entries.length && (
              <p class="muted">
                The newest {ledger.entries.length} of {ledger.total} entries
                {ledger.total > ledger.kept ? ` (the farm keeps the newest ${ledger.kept})` : ''}.
              </p>
            )}
            <table>
              <thead>
                <tr>
                  <th>When</th>
                  <th>Entry</th>
                  <th>Amount</th>
                  <th>Balance</th>
                  <th>Stake</th>
                  <th>For</th>
                </tr>
              </thead>
              <tbody>
                {ledger.entries.map((e, i) => (
                  <tr key={`${e.at}.${i}`} class={e.kind === 'slashed' || e.kind === 'penalty' ? 'bad' : ''}>
                    <td>{dateTime(e.at)}</td>
                    <td>{e.kind}</td>
                    <td class="num">{credits(e.amount)}</td>
                    <td class="num">{credits(e.balance)}</td>
                    <td class="num">{credits(e.stake)}</td>
                    <td>
                      <code>{e.ref ?? ''}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
    </>
  );
}
