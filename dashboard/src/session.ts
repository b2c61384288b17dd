/**
 * Who is signed in. `farm up` prints the dashboard's address with `#token=…`: the page trades
 * that token for the session cookie at once and drops it from the address bar and history, also
 * when such a link is opened in a tab that already shows the dashboard (only the hash changes).
 * A link that would replace a session with another account's asks first: any site may open one,
 * and a requester's scenes and renders had gone into the account of whoever made the link (an
 * attacker's review).
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
      const linked = decodeURIComponent(token);
      const current = await api<Principal>('/api/session').catch(() => undefined);
      if (current && current.owner !== (await ownerOf(linked)) && !window.confirm(switchQuestion(current))) {
        setSession({ state: 'signed-in', principal: current });
        return true;
      }
      setSession({ state: 'signed-in', principal: await signIn(linked) });
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

const switchQuestion = (current: Principal) =>
  `This link signs in to another account in place of ${current.name} (${current.role}). What you submit from then on goes to that account. Sign in with the link?`;

/** A token's owner id, as the orchestrator derives it (the first 16 hex digits of its SHA-256); undefined where the page may not hash (plain HTTP off localhost). */
async function ownerOf(token: string): Promise<string | undefined> {
  if (!crypto.subtle) return undefined;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function signOut(): Promise<void> {
  await api('/api/session', { method: 'DELETE' });
}
