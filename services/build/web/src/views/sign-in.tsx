/** The token prompt: asked once per tab; shown again, saying so, when the API refuses the token. */
import { useState } from 'preact/hooks';
import { signIn } from '../auth.ts';
import { useTitle } from './common.tsx';

export function SignIn({ refused }: { refused: boolean }) {
  const [token, setToken] = useState('');
  useTitle('Sign in');
  const submit = (event: Event) => {
    event.preventDefault();
    const value = token.trim();
    if (value !== '') signIn(value);
  };
  return (
    <main class="sign-in">
      <form aria-label="Sign in" onSubmit={submit} class="card">
        <h1>Flotilla</h1>
        <p class="muted">The console calls the build API with your API token. It is kept in this tab only (sessionStorage) and sent as a header, never in a URL.</p>
        {refused && (
          <p class="notice notice-error" role="alert">
            The token was refused. Enter it again.
          </p>
        )}
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} autoFocus />
        <p class="hint">Locally: the contents of .run/api-token.</p>
        <button type="submit" class="button-primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
