/** The page's frame: navigation, the session gate for requester pages, and the routed page. */

import { useEffect, useState } from 'preact/hooks';
import { JobPage } from './pages/job.tsx';
import { JobsPage } from './pages/jobs.tsx';
import { LoginPage } from './pages/login.tsx';
import { WorkerPage } from './pages/worker.tsx';
import { WorkersPage } from './pages/workers.tsx';
import { href, type Route, useRoute } from './router.ts';
import { type Session, signOut, useSession } from './session.ts';

export function App() {
  const route = useRoute();
  const [session, setSession] = useSession();
  return (
    <>
      <header class="top">
        <a class="brand" href={href.jobs()}>
          farm
        </a>
        <nav>
          <a href={href.jobs()} class={route.page === 'jobs' || route.page === 'job' ? 'active' : ''}>
            Jobs
          </a>
          <a href={href.workers()} class={route.page === 'workers' || route.page === 'worker' ? 'active' : ''}>
            Workers
          </a>
          <a href={href.market()} class={route.page === 'market' ? 'active' : ''}>
            Market
          </a>
          {session.state === 'signed-in' && session.principal.role === 'operator' && (
            <a href="/admin/queues" target="_blank" rel="noreferrer">
              Queues
            </a>
          )}
        </nav>
        <span class="who">
          {session.state === 'signed-in' && (
            <>
              {session.principal.name} ({session.principal.role}){' '}
              <button
                type="button"
                class="link"
                onClick={async () => {
                  await signOut();
                  setSession({ state: 'anonymous' });
                }}
              >
                sign out
              </button>
            </>
          )}
        </span>
      </header>
      <main>
        <Page route={route} session={session} onSignIn={(principal) => setSession({ state: 'signed-in', principal })} />
      </main>
    </>
  );
}

function Page({ route, session, onSignIn }: { route: Route; session: Session; onSignIn: Parameters<typeof LoginPage>[0]['onSignIn'] }) {
  // Reputation and the market are public; jobs belong to whoever holds the token.
  if (route.page === 'market') return <LazyMarketPage requester={session.state === 'signed-in'} />;
  if (route.page === 'workers') return <WorkersPage />;
  if (route.page === 'worker') return <WorkerPage id={route.id} />;
  if (session.state === 'loading') return <p class="muted">Loading…</p>;
  if (session.state === 'anonymous' || route.page === 'login') return <LoginPage onSignIn={onSignIn} />;
  if (route.page === 'job') return <JobPage id={route.id} />;
  return <JobsPage principal={session.principal} />;
}

/** The market page and its charting libraries load only when it is opened: the job pages stay small. */
function LazyMarketPage({ requester }: { requester: boolean }) {
  const [page, setPage] = useState<{ Page: (props: { requester: boolean }) => preact.JSX.Element }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    import('./pages/market.tsx').then(
      (m) => setPage({ Page: m.MarketPage }),
      (e) => setError(String(e)),
    );
  }, []);
  if (error) return <p class="error">{error}</p>;
  return page ? <page.Page requester={requester} /> : <p class="muted">Loading…</p>;
}
