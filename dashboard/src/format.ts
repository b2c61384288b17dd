/** How numbers, ids and times read on the page. */
import { toRu } from '../../shared/render-units.ts';

/** `bafkrei…x7q4`: enough of a CID to tell two apart at a glance. */
export const shortCid = (cid: string | null | undefined): string => (cid ? `${cid.slice(0, 10)}…${cid.slice(-4)}` : '—');

export const shortId = (id: string): string => (id.length > 14 ? `${id.slice(0, 12)}…` : id);

export const percent = (done: number, total: number): number => (total > 0 ? Math.round((100 * done) / total) : 0);

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const clock = (at: number): string => new Date(at).toLocaleTimeString();

export const dateTime = (at: number): string => new Date(at).toLocaleString();

export { formatCredits as credits } from '../../shared/money.ts';

/** Metered work: rays as render units (10^9 rays), three significant digits. */
export const renderUnits = (rays: number): string => `${toRu(rays).toPrecision(3)} RU`;
