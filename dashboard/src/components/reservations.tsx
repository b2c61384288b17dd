/**
 * A signed-in requester's reservations on the market page: reserve RU in a window that still takes
 * orders (its most value is held from the balance), see each one's state and fill, and withdraw
 * one before its window's gate (what it holds comes back). A refusal is shown with its field.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ForwardCurve, ForwardOrderView } from '../../../shared/market.ts';
import { ApiError, api } from '../api.ts';
import { dateTime } from '../format.ts';

const messageOf = (e: unknown) => {
  if (!(e instanceof ApiError)) return String(e);
  const field = e.problem.errors?.[0];
  return `${e.problem.detail ?? e.problem.title}${field ? ` (${field.path})` : ''}`;
};

export function Reservations({ forwards }: { forwards: ForwardCurve }) {
  const [orders, setOrders] = useState<ForwardOrderView[]>();
  const [error, setError] = useState<string>();
  const [placed, setPlaced] = useState(0);
  // Again with each refresh of the market (a window clears, an order fills) and after each order
  // or withdrawal; an answer that an asking since has overtaken is dropped.
  useEffect(() => {
    let overtaken = false;
    api<{ reservations: ForwardOrderView[] }>('/api/reservations').then(
      (r) => overtaken || setOrders(r.reservations),
      (e) => overtaken || setError(messageOf(e)),
    );
    return () => {
      overtaken = true;
    };
  }, [forwards, placed]);
  const act = (path: string, body: unknown) =>
    api(path, { body }).then(
      () => {
        setError(undefined);
        setPlaced((n) => n + 1);
      },
      (e) => setError(messageOf(e)),
    );
  // Orders close at a window's gate: only windows before theirs are offered.
  const open = forwards.windows.filter((w) => w.state === 'open' && w.start - forwards.gateMs > Date.now());
  return (
    <section class="card">
      <h2>Your reservations</h2>
      <form
        class="row reserve"
        data-testid="reserve"
        onSubmit={(e) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget);
          void act('/api/reservations', {
            start: Number(form.get('start')),
            ru: Number(form.get('ru')),
            maxPrice: Number(form.get('maxPrice')),
          });
        }}
      >
        <label>
          Window{' '}
          <select name="start">
            {open.map((w) => (
              <option key={w.start} value={w.start}>
                {dateTime(w.start)}
              </option>
            ))}
          </select>
        </label>
        <label>
          RU <input name="ru" type="number" min="0.000001" step="0.000001" required />
        </label>
        <label>
          most credits/RU <input name="maxPrice" type="number" min="0.001" step="0.001" required />
        </label>
        <button type="submit">Reserve</button>
      </form>
      {error && (
        <p class="error" data-testid="reservation-error">
          {error}
        </p>
      )}
      {orders && orders.length > 0 && (
        <table data-testid="reservations">
          <thead>
            <tr>
              <th>Window</th>
              <th>RU</th>
              <th>Most credits/RU</th>
              <th>Locked when placed</th>
              <th>State</th>
              <th>Filled RU</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {orders.map((o) => (
              <tr key={o.id} data-id={o.id}>
                <td>{dateTime(o.start)}</td>
                <td class="num">{o.ru}</td>
                <td class="num">{o.limit.toFixed(3)}</td>
                <td class="num">{o.locked}</td>
                <td>{o.state}</td>
                <td class="num">{o.filledRu}</td>
                <td>
                  {o.state === 'open' && o.start - forwards.gateMs > Date.now() && (
                    <button type="button" class="link" onClick={() => act(`/api/reservations/${encodeURIComponent(o.id)}/withdraw`, {})}>
                      withdraw
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
