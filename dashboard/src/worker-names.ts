/** Worker names for ids seen in replica lists (the leaderboard is public). */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Leaderboard } from '../../shared/protocol.ts';
import { api } from './api.ts';

export function useWorkerNames(ids: Iterable<string>): ReadonlyMap<string, string> {
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const asked = useRef(new Set<string>());
  const missing = [...new Set(ids)].filter((id) => !names.has(id) && !asked.current.has(id));
  const key = missing.sort().join(',');
  useEffect(() => {
    if (!key) return;
    for (const id of key.split(',')) asked.current.add(id);
    api<Leaderboard>('/api/workers?limit=500').then(
      (r) => setNames(new Map(r.workers.map((w) => [w.id, w.name]))),
      () => undefined, // ids stay as they are: names are a courtesy
    );
  }, [key]);
  return names;
}
