/**
 * Who is signed in. `farm up` prints the dashboard's address with `#token=…`: the page trades
 * that token for the session cookie at once and drops it from the address bar and history, also
 * when such a link is opened in a tab that already shows the dashboard (only the hash changes).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from './api.ts';

export interface Principal {
  owner: string;
  role: 'operator' | 'requester';
  name: string;
}

export type Session = { state: 'loading' } | { state: 'anonymous' } | { state: 'signed-in'; principal: Principal };

export function signIn(token: string): Promise<Principal> {
  return api<Principal>('/api/session', { body: { token } });
}

export function useSession(): [Session, (s: Session) => void] {
  const [session, setSession] = useState<Session>({ state: 'loading' });
  useEffect(() => {
    const failed = (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) setSession({ state: 'anonymous' });
      else throw e;
    };
    /** Signs in with the token in the address, if there is one (and takes it out of the address). */
    const tokenInHash = async (): Promise<boolean> => {
      const token = /[#&?]token=([^&]+)/.exec(window.location.hash)?.[1];
      if (!token) return false;
      history.replaceState(null, '', `${window.location.pathname}#/`);
      window.dispatchEvent(new HashChangeEvent('hashchange'));
      setSession({ state: 'signed-in', principal: await signIn(decodeURIComponent(token)) });
      return true;
    };
    (async () => {
      if (!(await tokenInHash())) setSession({ state: 'signed-in', principal: await api<Principal>('/api/session') });
    })().catch(failed);
    const onHashChange = () => {
      tokenInHash().catch(failed);
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);
  return [session, setSession];
}

export async function signOut(): Promise<void> {
  await api('/api/session', { method: 'DELETE' });
}
