/**
 * The session: the API token, asked for once and kept in sessionStorage (it lasts as long as the
 * tab, and never goes in a URL). A 401 from any call refuses it: the token is forgotten and the
 * sign-in prompt comes back saying so.
 */
import { createStore } from './store.ts';

const STORAGE_KEY = 'flotilla.apiToken';

export type Session = { state: 'signed-in'; token: string } | { state: 'signed-out'; refused: boolean };

function stored(): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    // Storage can be disabled (a privacy mode); the token then lasts until the page is reloaded.
    return undefined;
  }
}

function keep(token: string | undefined): void {
  try {
    if (token === undefined) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // See stored().
  }
}

const initialToken = stored();
export const session = createStore<Session>(initialToken ? { state: 'signed-in', token: initialToken } : { state: 'signed-out', refused: false });

export function signIn(token: string): void {
  keep(token);
  session.set({ state: 'signed-in', token });
}

export function signOut(): void {
  keep(undefined);
  session.set({ state: 'signed-out', refused: false });
}

/**
 * The API answered 401 to a request made with `token`: forget it and ask again. An answer to a
 * request sent with an older token (the user has signed in again since) changes nothing.
 */
export function refuseToken(token: string | undefined): void {
  const current = session.get();
  if (current.state === 'signed-in' && current.token !== token) return;
  keep(undefined);
  session.set({ state: 'signed-out', refused: true });
}

export function sessionToken(): string | undefined {
  const current = session.get();
  return current.state === 'signed-in' ? current.token : undefined;
}
