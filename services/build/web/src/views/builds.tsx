/**
 * The build list (#/builds, the default route): newest first, filtered by what the hash says, a page
 * of 50 at a time through the API's cursor. The global event stream is the page's one stream: a
 * build event that can change the visible page refreshes it, at most once a second.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { isAbort, listBuilds, PAGE_SIZE, streams, type BuildList, type BuildSummary } from '../api.ts';
import { navigate } from '../hash.ts';
import { between } from '../model/format.ts';
import { eventChangesPage, type VisiblePage } from '../model/list.ts';
import { BUILD_STATUSES, DOORS, filtersFromQuery, filtersToQuery, hasFilters, hrefOf, KNOWN_ENVS, type BuildFilters } from '../router.ts';
import { follow } from '../stream.ts';
import { debounce, throttle } from '../timing.ts';
import { Empty, ErrorNotice, Loading, PageHead, StatusBadge, Time, useAutoRetry, useNow, useTitle } from './common.tsx';

/** How long typing in the repo box waits before the list follows it. */
const TYPING_PAUSE_MS = 350;
const LIVE_REFRESH_MS = 1_000;

const listHref = (filters: BuildFilters) => hrefOf({ name: 'builds', filters });

function Filters({ filters }: { filters: BuildFilters }) {
  const [repo, setRepo] = useState(filters.repo ?? '');
  const latest = useRef({ filters, repo });
  latest.current = { filters, repo };
  // Typing replaces the history entry once the typing pauses: one Back step, not one per key.
  const [applyRepo] = useState(() =>
    debounce(() => navigate(listHref({ ...latest.current.filters, repo: latest.current.repo.trim() || undefined }), { replace: true }), TYPING_PAUSE_MS),
  );
  useEffect(() => () => applyRepo.cancel(), [applyRepo]);
  // The hash changed by other means (Back, a link): the box follows it.
  useEffect(() => {
    if ((filters.repo ?? '') !== latest.current.repo.trim()) setRepo(filters.repo ?? '');
  }, [filters.repo]);

  const set = (change: Partial<BuildFilters>) => navigate(listHref({ ...filters, repo: repo.trim() || undefined, ...change }));
  const envs: string[] = [...KNOWN_ENVS];
  if (filters.env && !envs.includes(filters.env)) envs.push(filters.env);
  return (
    <form
      class="filters"
      role="search"
      aria-label="Filter builds"
      onSubmit={(e) => {
        e.preventDefault();
        applyRepo.cancel();
        set({});
      }}
    >
      <label>
        Repo
        <input
          name="repo"
          type="search"
          placeholder="any"
          value={repo}
          spellcheck={false}
          autoComplete="off"
          onInput={(e) => {
            setRepo(e.currentTarget.value);
            applyRepo();
          }}
        />
      </label>
      <label>
        Env
        <select name="env" value={filters.env ?? ''} onChange={(e) => set({ env: e.currentTarget.value || undefined })}>
          <option value="">any</option>
          {envs.map((env) => (
            <option key={env} value={env}>
              {env}
            </option>
          ))}
        </select>
      </label>
      <label>
        Status
        <select name="status" value={filters.status ?? ''} onChange={(e) => set({ status: filtersFromQuery(new URLSearchParams({ status: e.currentTarget.value })).status })}>
          <option value="">any</option>
          {BUILD_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label>
        Door
        <select name="door" value={filters.door ?? ''} onChange={(e) => set({ door: filtersFromQuery(new URLSearchParams({ door: e.currentTarget.value })).door })}>
          <option value="">any</option>
          {DOORS.map((door) => (
            <option key={door} value={door}>
              {door}
            </option>
          ))}
        </select>
      </label>
      {hasFilters(filters) && (
        <a class="clear" href="#/builds" onClick={() => setRepo('')}>
          Clear filters
        </a>
      )}
    </form>
  );
}

function Row({ build, now }: { build: BuildSummary; now: number }) {
  const href = hrefOf({ name: 'build', buildId: build.buildId });
  return (
    <tr data-build-id={build.buildId}>
      <td data-col="status">
        <StatusBadge status={build.status} />
      </td>
      <td data-col="build" class="mono">
        <a href={href}>{build.buildId}</a>
      </td>
      <td data-col="repo">{build.repo}</td>
      <td data-col="version" class="mono">
        {build.version}
      </td>
      <td data-col="env">{build.env}</td>
      <td data-col="door">{build.door}</td>
      <td data-col="regions" title={build.regions.join(', ')}>
        {build.regions.length} × {build.hostsPerRegion}
      </td>
      <td data-col="requested">
        <Time iso={build.requestedAt} now={now} relativeFirst />
      </td>
      <td data-col="took" class="num">
        {build.startedAt || build.finishedAt ? between(build.requestedAt, build.finishedAt, now) : '-'}
      </td>
      <td data-col="reason" class="reason" title={build.reason}>
        {build.reason ?? ''}
      </td>
    </tr>
  );
}

interface PageState {
  list?: BuildList;
  error?: unknown;
  loading: boolean;
}

export function BuildsList({ filters: routeFilters }: { filters: BuildFilters }) {
  useTitle('Builds');
  const now = useNow(5_000);
  // The filters as a string: the route object is new at each render, the filters are not.
  const filtersKey = filtersToQuery(routeFilters);
  const filters = filtersFromQuery(filtersKey);
  // The cursors of the pages before this one (undefined: the newest page), for Previous.
  const [paging, setPaging] = useState<{ filtersKey: string; cursors: (string | undefined)[] }>({ filtersKey, cursors: [undefined] });
  const cursors = paging.filtersKey === filtersKey ? paging.cursors : [undefined];
  const cursor = cursors[cursors.length - 1];
  const [page, setPage] = useState<PageState>({ loading: true });

  // What the live stream's handler needs, as of the last render.
  const visible = useRef<VisiblePage>({ first: true, buildIds: new Set(), filters });
  visible.current = { first: cursors.length === 1, buildIds: new Set(page.list?.builds.map((b) => b.buildId)), filters };
  const inflight = useRef<AbortController | undefined>(undefined);
  const load = useRef<(quiet: boolean) => void>(() => undefined);
  load.current = (quiet: boolean) => {
    inflight.current?.abort();
    const controller = new AbortController();
    inflight.current = controller;
    if (!quiet) setPage((p) => ({ ...p, loading: true }));
    listBuilds(filters, cursor, controller.signal).then(
      (list) => {
        if (!controller.signal.aborted) setPage({ list, loading: false });
      },
      (error: unknown) => {
        if (!isAbort(error) && !controller.signal.aborted) setPage((p) => ({ ...p, error, loading: false }));
      },
    );
  };

  useEffect(() => {
    load.current(false);
  }, [filtersKey, cursor]);

  useEffect(() => {
    const refresh = throttle(() => load.current(true), LIVE_REFRESH_MS);
    const stop = follow({
      path: streams.events(),
      onFrame(frame) {
        const event = JSON.parse(frame.data) as { stream?: unknown; type?: unknown };
        if (typeof event.stream !== 'string' || typeof event.type !== 'string') return;
        if (eventChangesPage({ stream: event.stream, type: event.type }, visible.current)) refresh();
      },
      // Events may have been missed while disconnected, if the server could not resume.
      onOpen(reconnected) {
        if (reconnected) refresh();
      },
      onEnd: () => true,
    });
    return () => {
      refresh.cancel();
      stop();
      inflight.current?.abort();
    };
  }, []);

  useAutoRetry(page.error, () => load.current(false));

  const pageNumber = cursors.length;
  const list = page.list;
  const builds = list?.builds ?? [];
  const goNext = () => {
    if (list?.nextCursor) setPaging({ filtersKey, cursors: [...cursors, list.nextCursor] });
  };
  const goPrevious = () => {
    if (cursors.length > 1) setPaging({ filtersKey, cursors: cursors.slice(0, -1) });
  };

  return (
    <section>
      <PageHead title="Builds">
        <a class="button button-primary" href="#/builds/new">
          New build
        </a>
      </PageHead>
      <Filters filters={filters} />
      {page.error !== undefined && <ErrorNotice error={page.error} onRetry={() => load.current(false)} />}
      {list === undefined ? (
        page.loading && <Loading what="builds" />
      ) : builds.length === 0 ? (
        <Empty>
          {hasFilters(filters) ? (
            <>
              No builds match these filters. <a href="#/builds">Clear filters</a>
            </>
          ) : pageNumber > 1 ? (
            'No more builds.'
          ) : (
            <>
              No builds yet. <a href="#/builds/new">Request one</a>
            </>
          )}
        </Empty>
      ) : (
        <table aria-label="Builds" class={`grid${page.loading ? ' stale' : ''}`} aria-busy={page.loading}>
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Build</th>
              <th scope="col">Repo</th>
              <th scope="col">Version</th>
              <th scope="col">Env</th>
              <th scope="col">Door</th>
              <th scope="col" title="Regions × hosts per region">
                Regions
              </th>
              <th scope="col">Requested</th>
              <th scope="col" class="num">
                Took
              </th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {builds.map((build) => (
              <Row key={build.buildId} build={build} now={now} />
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button type="button" onClick={goPrevious} disabled={page.loading || pageNumber <= 1}>
          Previous page
        </button>
        <span class="muted">
          Page {pageNumber} · {PAGE_SIZE} per page
        </span>
        <button type="button" onClick={goNext} disabled={page.loading || !list?.nextCursor}>
          Next page
        </button>
      </div>
    </section>
  );
}
