/**
 * Who is signed in. `farm up` prints the dashboard's address with `#token=…`: the page trades
 * that token for the session cookie at once and drops it from the address bar and history.
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
    (async () => {
      const token = /[#&?]token=([^&]+)/.exec(window.location.hash)?.[1];
      if (token) {
        history.replaceState(null, '', `${window.location.pathname}#/`);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
        return setSession({ state: 'signed-in', principal: await signIn(decodeURIComponent(token)) });
      }
      setSession({ state: 'signed-in', principal: await api<Principal>('/api/session') });
    })().catch((e) => {
      if (e instanceof ApiError && e.status === 401) setSession({ state: 'anonymous' });
      else throw e;
    });
  }, []);
  return [session, setSession];
}

export async function signOut(): Promise<void> {
  await api('/api/session', { method: 'DELETE' });
}
