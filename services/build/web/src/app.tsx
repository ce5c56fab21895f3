/**
 * The console: the sign-in prompt until there is a token, then the header and the view of the
 * current hash route. A view that throws while rendering shows its error, never a blank page.
 */
import { useErrorBoundary } from 'preact/hooks';
import { session } from './auth.ts';
import { useRoute } from './hash.ts';
import { hrefOf, type Route } from './router.ts';
import { BuildPage } from './views/build.tsx';
import { BuildsList } from './views/builds.tsx';
import { ErrorNotice, PageHead, useStore, useTitle } from './views/common.tsx';
import { Header } from './views/header.tsx';
import { NewBuild } from './views/new-build.tsx';
import { ServicePage } from './views/service.tsx';
import { SignIn } from './views/sign-in.tsx';
import { TestRunPage } from './views/testrun.tsx';

function NotFound({ path }: { path: string }) {
  useTitle('Not found');
  return (
    <section>
      <PageHead title="No such page" />
      <p role="alert">
        Nothing lives at <code>#{path}</code>. <a href="#/builds">Go to the builds</a>.
      </p>
    </section>
  );
}

function RouteView({ route }: { route: Route }) {
  switch (route.name) {
    case 'builds':
      return <BuildsList filters={route.filters} />;
    case 'new-build':
      return <NewBuild />;
    case 'build':
      return <BuildPage key={route.buildId} buildId={route.buildId} />;
    case 'testrun':
      return <TestRunPage key={route.runId} runId={route.runId} />;
    case 'service':
      return <ServicePage key={route.serviceName} name={route.serviceName} />;
    case 'not-found':
      return <NotFound path={route.path} />;
    default: {
      const _never: never = route;
      return _never;
    }
  }
}

/** Catches what a view throws while rendering, and lets the next route try again. */
function Guarded({ route }: { route: Route }) {
  // Preact types the caught error as any; it is whatever the view threw.
  const boundary: readonly [unknown, () => void] = useErrorBoundary((e: unknown) => console.error('view failed', e));
  const [error, reset] = boundary;
  if (error) return <ErrorNotice error={error} onRetry={reset} />;
  return <RouteView route={route} />;
}

function Console() {
  const route = useRoute();
  // A view's own state (a failed render included) starts afresh at another address.
  const where = route.name === 'builds' ? 'builds' : hrefOf(route);
  return (
    <>
      <Header route={route} />
      <main class="content">
        <Guarded key={where} route={route} />
      </main>
    </>
  );
}

export function App() {
  const current = useStore(session);
  return current.state === 'signed-in' ? <Console /> : <SignIn refused={current.refused} />;
}
