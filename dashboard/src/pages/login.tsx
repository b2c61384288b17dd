/** Sign in with an API token (FARM_TOKEN, or one minted with POST /api/tokens). */
import { useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import { type Principal, signIn } from '../session.ts';

export function LoginPage({ onSignIn }: { onSignIn: (p: Principal) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  return (
    <form
      class="card narrow"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          onSignIn(await signIn(token.trim()));
        } catch (err) {
          setError(err instanceof ApiError ? (err.problem.detail ?? err.problem.title) : String(err));
        }
      }}
    >
      <h1>Sign in</h1>
      <p class="muted">
        Paste an API token: the orchestrator prints the operator's as <code>FARM_TOKEN</code>, and <code>farm up</code> prints a link that
        signs you in.
      </p>
      <label>
        API token
        <input name="token" type="password" autoComplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
      </label>
      {error && <p class="error">{error}</p>}
      <button type="submit" disabled={token.trim().length < 8}>
        Sign in
      </button>
    </form>
  );
}
