/**
 * A build's page (#/builds/<id>): its stages, per-region host bars, the failure, what it waits on,
 * the timeline, and Cancel. The view and the events are read once, then the build's stream (with
 * view frames) is the page's one stream: event frames extend the timeline, view frames replace the
 * view (the bars), until the build has ended and its counters have caught up.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, cancelBuild, getBuild, getBuildEvents, getBuildWhy, hasEnded, isAbort, streams, type BuildView, type BuildWaiting, type BuildWhy, type EventEnvelope } from '../api.ts';
import { deriveStages, hostsLine, isTerminal, mergeEvents, needsStream, regionBars, summarizeEvent, type RegionBars } from '../model/build.ts';
import { between, clockTime, duration } from '../model/format.ts';
import { hrefOf } from '../router.ts';
import { follow, withoutStream } from '../stream.ts';
import { debounce } from '../timing.ts';
import { describeError, ErrorNotice, Fact, Loading, PageHead, StatusBadge, Time, useAutoRetry, useNow, useTitle } from './common.tsx';

/** A burst of events is one refetch of what is derived from them. */
const REFETCH_AFTER_MS = 1_000;
/** How long after its view says it is over the page waits for the stream to end before closing it. */
const LET_GO_AFTER_MS = 5_000;

function Stages({ view }: { view: BuildView }) {
  return (
    <ol class="stages" aria-label="Stages">
      {deriveStages(view).map((stage) => (
        <li key={stage.name} class={`stage stage-${stage.state}`} data-stage={stage.name} data-state={stage.state} aria-current={stage.state === 'current' ? 'step' : undefined}>
          <span class="stage-name">{stage.name}</span>
          <span class="stage-state">{stage.state === 'pending' ? '' : stage.at ? clockTime(stage.at) : stage.state}</span>
        </li>
      ))}
    </ol>
  );
}

function Bar({ label, percent, kind, text }: { label: string; percent: number; kind: 'synced' | 'failed'; text: string }) {
  return (
    <div class={`bar bar-${kind}`} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-valuetext={text}>
      <div class="bar-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}

function Region({ bars }: { bars: RegionBars }) {
  return (
    <li class={`region region-${bars.phase}`} data-region={bars.region}>
      <div class="region-head">
        <span class="region-name">{bars.region}</span>
        <span class={`chip phase-${bars.phase}`}>{bars.phase}</span>
        <span class="region-counts">{hostsLine(bars)}</span>
        <span class="muted">{bars.syncedPercent}%</span>
        {bars.catchingUp && (
          <span class="muted" title="Every host record is written; the counters are still counting them">
            counting…
          </span>
        )}
      </div>
      <Bar label={`${bars.region} synced`} kind="synced" percent={bars.syncedPercent} text={`${bars.synced} of ${bars.expected} hosts synced`} />
      <Bar label={`${bars.region} failed`} kind="failed" percent={bars.failedPercent} text={`${bars.failed} of ${bars.expected} hosts failed`} />
      {bars.failure && <p class="region-failure">{bars.failure}</p>}
    </li>
  );
}

function Failure({ failure }: { failure: NonNullable<BuildView['failure']> }) {
  return (
    <div class="notice notice-error failure" role="alert" data-testid="failure">
      <strong>Failed: {failure.reason}</strong>
      {failure.failedRegions.length > 0 && (
        <ul>
          {failure.failedRegions.map((r) => (
            <li key={r.region}>
              {r.region}: {r.reason}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const depth = (d: { visible: number; inFlight: number; delayed: number }) => `${d.visible} visible · ${d.inFlight} in flight · ${d.delayed} delayed`;

/** `fetchedAt`: when the answer came, so the last event's age keeps counting. */
function WaitingOn({ why, fetchedAt, now }: { why: BuildWaiting; fetchedAt: number; now: number }) {
  return (
    <>
      <p>
        <span class="chip">{why.stage}</span> waiting on {why.waitingOn}
      </p>
      <dl class="facts">
        {why.lastEvent && (
          <>
            <dt>Last event</dt>
            <dd>
              <code>{why.lastEvent.type}</code> v{why.lastEvent.version}, {duration(why.lastEvent.ageMs + Math.max(0, now - fetchedAt))} ago
            </dd>
          </>
        )}
        {why.execution && (
          <>
            <dt>Execution</dt>
            <dd>
              {why.execution.status}
              {why.execution.currentState && (
                <>
                  {' '}
                  in <code>{why.execution.currentState.name}</code> since <Time iso={why.execution.currentState.enteredAt} now={now} />
                </>
              )}
              {why.execution.error && (
                <span class="error-text">
                  {' '}
                  {why.execution.error}
                  {why.execution.cause ? `: ${why.execution.cause}` : ''}
                </span>
              )}
            </dd>
          </>
        )}
      </dl>
      {why.queues.length > 0 && (
        <table class="grid compact" aria-label="Queues">
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Messages</th>
              <th scope="col">Dead letters</th>
            </tr>
          </thead>
          <tbody>
            {why.queues.map((q) => (
              <tr key={q.name}>
                <td class="mono">{q.name}</td>
                <td>{depth(q.depth)}</td>
                <td class={q.dlqDepth.visible > 0 ? 'error-text' : undefined} title={q.dlq}>
                  {depth(q.dlqDepth)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Why({ why, fetchedAt, error, now }: { why: BuildWhy | undefined; fetchedAt: number; error: unknown; now: number }) {
  return (
    <section class="panel" data-testid="why" aria-label="What it waits on">
      <h2>What it waits on</h2>
      {error !== undefined ? (
        <p class="muted">Could not ask: {describeError(error).title}</p>
      ) : why === undefined ? (
        <p class="muted">Asking…</p>
      ) : hasEnded(why) ? (
        <p>
          It ended {why.status}
          {why.reason ? `: ${why.reason}` : ''}.
        </p>
      ) : (
        <WaitingOn why={why} fetchedAt={fetchedAt} now={now} />
      )}
    </section>
  );
}

function Timeline({ events }: { events: readonly EventEnvelope[] }) {
  return (
    <ol class="timeline" aria-label="Timeline">
      {events.map((event) => (
        <li key={event.version} data-version={event.version}>
          <time dateTime={event.occurredAt} title={event.occurredAt}>
            {clockTime(event.occurredAt)}
          </time>
          <span class="timeline-version">v{event.version}</span>
          <code class="timeline-type">{event.type}</code>
          <span class="timeline-summary">{summarizeEvent(event)}</span>
        </li>
      ))}
    </ol>
  );
}

/**
 * Cancel: 202 ends the build FAILED (reason cancelled); 409 means it had already ended. What the
 * API said is reported to the page, which keeps it shown after the button goes.
 */
type CancelAnswer = { cancelled: true } | { cancelled: false; alreadyEnded: boolean; message: string };

function CancelButton({ buildId, onAnswer }: { buildId: string; onAnswer: (answer: CancelAnswer) => void }) {
  const [sending, setSending] = useState(false);
  const click = () => {
    setSending(true);
    cancelBuild(buildId)
      .then(
        () => onAnswer({ cancelled: true }),
        (error: unknown) => {
          const alreadyEnded = error instanceof ApiError && error.status === 409;
          onAnswer({ cancelled: false, alreadyEnded, message: alreadyEnded ? `Not cancelled: the build had already ended (${error.message}).` : `Not cancelled: ${describeError(error).title}` });
        },
      )
      .finally(() => setSending(false));
  };
  return (
    <button type="button" class="button-danger" onClick={click} disabled={sending}>
      Cancel build
    </button>
  );
}

type WhyState = { why?: BuildWhy; fetchedAt: number; error?: unknown };

export function BuildPage({ buildId }: { buildId: string }) {
  useTitle(`Build ${buildId}`);
  const now = useNow();
  const [view, setView] = useState<BuildView>();
  const [events, setEvents] = useState<EventEnvelope[]>([]);
  const [error, setError] = useState<unknown>();
  const [streamError, setStreamError] = useState<unknown>();
  const [why, setWhy] = useState<WhyState>({ fetchedAt: 0 });
  const [attempt, setAttempt] = useState(0);
  const [cancelNote, setCancelNote] = useState<string>();
  const refetchView = useRef<() => void>(() => undefined);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let stop: (() => void) | undefined;
    let latest: BuildView | undefined;
    const ignoreAbort = (e: unknown) => {
      if (!isAbort(e) && !signal.aborted) console.warn('build page refetch failed', e);
    };
    // The stream ends itself once the build has ended and its counters caught up; should it not,
    // the page lets go of it shortly after its view says so, and reads the log once for the rest.
    let letGo: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      stop?.();
      stop = undefined;
      withoutStream('ended');
      getBuildEvents(buildId, signal).then((rest) => setEvents((current) => mergeEvents(current, rest.events)), ignoreAbort);
    };
    const show = (next: BuildView) => {
      latest = next;
      setView(next);
      if (stop && letGo === undefined && !needsStream(next)) letGo = setTimeout(finish, LET_GO_AFTER_MS);
    };
    const loadWhy = debounce(() => {
      if (latest && isTerminal(latest.status)) return;
      getBuildWhy(buildId, signal).then(
        (answer) => setWhy({ why: answer, fetchedAt: Date.now() }),
        (e: unknown) => {
          if (!isAbort(e) && !signal.aborted) setWhy({ error: e, fetchedAt: Date.now() });
        },
      );
    }, REFETCH_AFTER_MS);
    const loadView = () => getBuild(buildId, signal).then(show);
    // Only until the stream sends view frames: a server without them still moves the bars.
    const fallbackView = debounce(() => void loadView().catch(ignoreAbort), REFETCH_AFTER_MS);
    refetchView.current = () => void loadView().catch(ignoreAbort);
    let viewFrames = false;

    const start = async () => {
      const [first, history] = await Promise.all([getBuild(buildId, signal), getBuildEvents(buildId, signal)]);
      if (signal.aborted) return;
      show(first);
      setEvents(history.events);
      setError(undefined);
      if (!isTerminal(first.status)) loadWhy();
      if (!needsStream(first)) {
        withoutStream('ended');
        return;
      }
      // The timeline's last event: the view may have been read a moment later, with more.
      const lastVersion = Math.max(0, ...history.events.map((e) => e.version));
      stop = follow({
        path: streams.build(buildId),
        lastEventId: String(lastVersion),
        onFrame(frame) {
          if (frame.event === 'view') {
            viewFrames = true;
            fallbackView.cancel();
            show(JSON.parse(frame.data) as BuildView);
            return;
          }
          const event = JSON.parse(frame.data) as EventEnvelope;
          setEvents((current) => mergeEvents(current, [event]));
          if (!viewFrames) fallbackView();
          loadWhy();
        },
        onOpen(reconnected) {
          // Counters may have moved while disconnected, with no event to say so.
          if (reconnected) loadView().catch(ignoreAbort);
        },
        async onEnd() {
          await loadView();
          const again = latest === undefined || needsStream(latest);
          if (!again) {
            clearTimeout(letGo);
            stop = undefined;
          }
          return again;
        },
        onFail: setStreamError,
      });
    };
    start().catch((e: unknown) => {
      if (!isAbort(e) && !signal.aborted) setError(e);
    });
    return () => {
      controller.abort();
      clearTimeout(letGo);
      stop?.();
      loadWhy.cancel();
      fallbackView.cancel();
    };
  }, [buildId, attempt]);

  // Nothing to show yet: a transient failure is tried again by itself.
  useAutoRetry(view === undefined ? error : undefined, () => setAttempt((n) => n + 1));

  if (view === undefined) {
    return (
      <section>
        <PageHead title={<span class="mono">Build {buildId}</span>} />
        {error !== undefined ? <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} /> : <Loading what="the build" />}
      </section>
    );
  }

  const terminal = isTerminal(view.status);
  const regions = regionBars(view);
  const cancelAnswered = (answer: CancelAnswer) => {
    if (answer.cancelled) {
      setCancelNote(undefined);
      setView((v) => v && (isTerminal(v.status) ? v : { ...v, status: 'FAILED', failure: v.failure ?? { reason: 'cancelled', failedRegions: [] } }));
    } else {
      setCancelNote(answer.message);
    }
    // The view says how it really ended (a 409: what ended it first).
    if (answer.cancelled || answer.alreadyEnded) refetchView.current();
  };
  return (
    <section class="build">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={hrefOf({ name: 'builds', filters: {} })}>Builds</a> / <span class="mono">{view.buildId}</span>
      </nav>
      <PageHead
        title={
          <>
            {view.repo} <span class="mono">{view.version}</span> <span class="muted">to</span> {view.env}
          </>
        }
      >
        <StatusBadge status={view.status} testId="build-status" />
        {!terminal && <CancelButton buildId={view.buildId} onAnswer={cancelAnswered} />}
        {cancelNote && (
          <span class="error-text" role="alert" data-testid="cancel-refused">
            {cancelNote}
          </span>
        )}
      </PageHead>
      {error !== undefined && <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      {streamError !== undefined && <ErrorNotice error={streamError} />}
      <dl class="facts inline">
        <Fact label="Build" mono>
          {view.buildId}
        </Fact>
        <Fact label="Branch" mono>
          {view.branch}@{view.commit.slice(0, 12)}
        </Fact>
        <Fact label="Door">
          {view.source.door} <span class="muted mono">{view.source.key}</span>
        </Fact>
        <Fact label="Requested">
          <Time iso={view.requestedAt} now={now} />
        </Fact>
        <Fact label={terminal ? 'Took' : 'Running for'}>{between(view.requestedAt, view.finishedAt, now)}</Fact>
        {view.artifact && (
          <Fact label="Artifact" mono title={`s3://${view.artifact.bucket}/${view.artifact.key}`}>
            sha256 {view.artifact.sha256.slice(0, 16)}…
          </Fact>
        )}
      </dl>
      <Stages view={view} />
      {view.failure && <Failure failure={view.failure} />}
      {!terminal && <Why why={why.why} fetchedAt={why.fetchedAt} error={why.error} now={now} />}
      <section class="panel" aria-label="Regions">
        <h2>Regions</h2>
        {regions.length === 0 ? (
          <p class="muted">No regions.</p>
        ) : (
          <ul class="regions">
            {regions.map((bars) => (
              <Region key={bars.region} bars={bars} />
            ))}
          </ul>
        )}
      </section>
      <section class="panel" aria-label="Events">
        <h2>Timeline</h2>
        <Timeline events={events} />
      </section>
    </section>
  );
}
