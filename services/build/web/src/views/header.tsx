/** The bar on every page: where to go, the lookup box, whether the page is live, sign out. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getBuild, getTestRun, isNotFound } from '../api.ts';
import { signOut } from '../auth.ts';
import { navigate } from '../hash.ts';
import { classifyLookup, hrefOf, type Route } from '../router.ts';
import { liveState, type LiveState } from '../stream.ts';
import { describeError, useStore } from './common.tsx';

const LIVE_TEXT: Record<LiveState, { text: string; title: string }> = {
  idle: { text: 'not live', title: 'This page does not update itself' },
  connecting: { text: 'connecting', title: 'Opening the live stream' },
  live: { text: 'live', title: 'Connected: the page updates as events happen' },
  reconnecting: { text: 'reconnecting', title: 'The live stream dropped; opening it again' },
  ended: { text: 'ended', title: 'Nothing more will change on this page' },
  polling: { text: 'polling', title: 'The page refreshes itself every 2 s' },
};

function LiveIndicator() {
  const state = useStore(liveState);
  const { text, title } = LIVE_TEXT[state];
  return (
    <span class={`live live-${state}`} data-testid="live" data-state={state} title={title} aria-live="polite">
      {text}
    </span>
  );
}

/**
 * Where an id or a name leads: a ULID is a build's or a test run's id (the API is asked, builds
 * first); anything else that is a valid service name is a service creation.
 */
async function resolveLookup(text: string): Promise<{ href: string } | { message: string }> {
  const target = classifyLookup(text);
  switch (target.kind) {
    case 'invalid':
      return { message: target.message };
    case 'service':
      return { href: hrefOf({ name: 'service', serviceName: target.name }) };
    case 'id': {
      try {
        await getBuild(target.id);
        return { href: hrefOf({ name: 'build', buildId: target.id }) };
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      try {
        await getTestRun(target.id);
        return { href: hrefOf({ name: 'testrun', runId: target.id }) };
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      return { message: `No build or test run ${target.id}` };
    }
    default: {
      const _never: never = target;
      return _never;
    }
  }
}

/** How long a lookup's answer ("No build or test run ...") stays under the box. */
const MESSAGE_MS = 8_000;

function Lookup({ where }: { where: string }) {
  const [text, setText] = useState('');
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  // The answer was about the last lookup: another page, or a while later, it goes.
  useEffect(() => setMessage(undefined), [where]);
  useEffect(() => {
    if (message === undefined) return undefined;
    const timer = setTimeout(() => setMessage(undefined), MESSAGE_MS);
    return () => clearTimeout(timer);
  }, [message]);
  const submit = (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setMessage(undefined);
    resolveLookup(text)
      .then((answer) => {
        if ('href' in answer) {
          setText('');
          navigate(answer.href);
        } else setMessage(answer.message);
      })
      .catch((error: unknown) => {
        if (!(error instanceof ApiError && error.kind === 'unauthorized')) setMessage(describeError(error).title);
      })
      .finally(() => setBusy(false));
  };
  return (
    <form class="lookup" role="search" aria-label="Lookup" onSubmit={submit}>
      <input
        name="lookup"
        type="search"
        placeholder="Build id, test run id or service name"
        aria-label="Build id, test run id or service name"
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          setMessage(undefined);
        }}
        spellcheck={false}
        autoComplete="off"
      />
      <button type="submit" disabled={busy}>
        Go
      </button>
      {message && (
        <span class="lookup-message" role="alert">
          {message}
        </span>
      )}
    </form>
  );
}

export function Header({ route }: { route: Route }) {
  const section = route.name === 'new-build' ? 'new-build' : route.name === 'builds' || route.name === 'build' ? 'builds' : undefined;
  return (
    <header class="top">
      <a class="brand" href="#/builds">
        Flotilla
      </a>
      <nav aria-label="Sections">
        <a href="#/builds" aria-current={section === 'builds' ? 'page' : undefined}>
          Builds
        </a>
        <a href="#/builds/new" aria-current={section === 'new-build' ? 'page' : undefined}>
          New build
        </a>
      </nav>
      <Lookup where={hrefOf(route)} />
      <LiveIndicator />
      <button type="button" class="sign-out" onClick={signOut}>
        Sign out
      </button>
    </header>
  );
}
