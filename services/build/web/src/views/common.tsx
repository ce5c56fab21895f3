/** The pieces every view shares: loading, error and empty states, status badges, times. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, isTransient } from '../api.ts';
import { dateTime, relative } from '../model/format.ts';
import { type Store } from '../store.ts';
import { reconnectDelay } from '../stream.ts';

/** What a failed call means for the person looking at the page. */
export function describeError(error: unknown): { title: string; detail?: string } {
  if (error instanceof ApiError) {
    switch (error.kind) {
      case 'unreachable':
        return { title: 'Cannot reach the build service', detail: 'The request got no answer: the service may be down or restarting, or the network is out.' };
      case 'unavailable':
        return { title: 'AWS is unavailable', detail: `The build service answered 503: ${error.message}` };
      case 'unauthorized':
        return { title: 'The token was refused' };
      case 'refused':
        return { title: error.message, ...(error.status === undefined ? {} : { detail: `HTTP ${error.status}${error.code ? ` ${error.code}` : ''}` }) };
      default: {
        const _never: never = error.kind;
        return { title: String(_never) };
      }
    }
  }
  return { title: 'Something went wrong in the console', detail: error instanceof Error ? error.message : String(error) };
}

export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { title, detail } = describeError(error);
  return (
    <div class="notice notice-error" role="alert">
      <strong>{title}</strong>
      {detail && <span class="notice-detail">{detail}</span>}
      {onRetry && (
        <button type="button" class="button-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <div class="empty" data-testid="empty">
      {children}
    </div>
  );
}

/** A status word in its colour; `testId` when a test reads it (the text is exactly the status). */
export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <span class={`badge status-${status.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`} data-testid={testId}>
      {status}
    </span>
  );
}

/** The clock, ticking every `everyMs`, for "12 s ago". */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** A time as `2025-03-04 12:34:56`, with how long ago on hover; or relative with the date on hover. */
export function Time({ iso, now, relativeFirst = false }: { iso: string | undefined; now?: number; relativeFirst?: boolean }) {
  if (!iso) return <span class="muted">-</span>;
  const absolute = dateTime(iso);
  const ago = now === undefined ? undefined : relative(iso, now);
  return (
    <time dateTime={iso} title={relativeFirst ? absolute : ago}>
      {relativeFirst && ago ? ago : absolute}
    </time>
  );
}

/** One fact of a `dl.facts.inline` bar: its label and value kept together when the bar wraps. */
export function Fact({ label, children, mono = false, title }: { label: string; children: ComponentChildren; mono?: boolean; title?: string | undefined }) {
  return (
    <div class="fact">
      <dt>{label}</dt>
      <dd class={mono ? 'mono' : undefined} title={title}>
        {children}
      </dd>
    </div>
  );
}

/** A page's heading line: a title and what goes beside it. */
export function PageHead({ title, children }: { title: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      {children}
    </div>
  );
}

/** Keeps the tab's title saying where the page is. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Flotilla`;
  }, [title]);
}

/**
 * A load that failed transiently (no answer, AWS unavailable, a 5xx) is tried again by itself,
 * backing off as the streams do; the error stays shown (with its Retry button) meanwhile.
 */
export function useAutoRetry(error: unknown, retry: () => void): void {
  const attempts = useRef(0);
  const latest = useRef(retry);
  latest.current = retry;
  useEffect(() => {
    if (error === undefined) {
      attempts.current = 0;
      return undefined;
    }
    if (!isTransient(error)) return undefined;
    const timer = setTimeout(() => latest.current(), reconnectDelay(++attempts.current));
    return () => clearTimeout(timer);
  }, [error]);
}

/** The store's value, re-rendering the component when it changes. */
export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(() => store.get());
  useEffect(() => {
    // The value may have changed between the render and this subscription.
    setValue(() => store.get());
    return store.subscribe((next) => setValue(() => next));
  }, [store]);
  return value;
}
