/** Routing by the URL fragment (`#/jobs/<id>`): the orchestrator serves one page at `/`. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'jobs' }
  | { page: 'job'; id: string }
  | { page: 'workers' }
  | { page: 'worker'; id: string }
  | { page: 'market' }
  | { page: 'login' };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').split('?')[0];
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'jobs' && parts[1]) return { page: 'job', id: parts[1] };
  if (parts[0] === 'workers' && parts[1]) return { page: 'worker', id: parts[1] };
  if (parts[0] === 'workers') return { page: 'workers' };
  if (parts[0] === 'market') return { page: 'market' };
  if (parts[0] === 'login') return { page: 'login' };
  return { page: 'jobs' };
}

export const href = {
  jobs: () => '#/',
  job: (id: string) => `#/jobs/${encodeURIComponent(id)}`,
  workers: () => '#/workers',
  worker: (id: string) => `#/workers/${encodeURIComponent(id)}`,
  market: () => '#/market',
};

export function navigate(to: string): void {
  window.location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
