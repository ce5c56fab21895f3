/**
 * The location, as the views follow it: the current route (router.ts parses it) and navigate().
 * Filters typed into the build list replace the history entry instead of adding one per keystroke.
 */
import { useEffect, useState } from 'preact/hooks';
import { parseRoute, type Route } from './router.ts';

const listeners = new Set<() => void>();
const notify = () => {
  for (const listener of [...listeners]) listener();
};
window.addEventListener('hashchange', notify);

/** Goes to `href` (a hash, `#/...`); `replace` keeps the history entry (no Back step for it). */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (location.hash === href || (href === '#/builds' && location.hash === '')) return;
  if (options.replace) {
    history.replaceState(history.state, '', href);
    // replaceState fires no hashchange.
    notify();
  } else {
    location.hash = href;
  }
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    listeners.add(update);
    update();
    return () => listeners.delete(update);
  }, []);
  return parseRoute(hash);
}
