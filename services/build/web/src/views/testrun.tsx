/**
 * A test run's page (#/testruns/<id>): its regions ready, its start, each region's load results,
 * teardown and the verdict. The run's stream says when something happened; the view is fetched
 * again after each burst of events, until the run is finished.
 */
import { useEffect, useState } from 'preact/hooks';
import { getTestRun, isAbort, streams, type TestRunView } from '../api.ts';
import { duration, relative } from '../model/format.ts';
import { follow, withoutStream } from '../stream.ts';
import { debounce } from '../timing.ts';
import { ErrorNotice, Loading, PageHead, StatusBadge, Time, useAutoRetry, useNow, useTitle } from './common.tsx';

const REFETCH_AFTER_MS = 300;

const percent = (rate: number) => `${(rate * 100).toFixed(2)}%`;

function Regions({ run }: { run: TestRunView }) {
  const want = run.request.containersPerRegion;
  return (
    <table class="grid" aria-label="Regions">
      <thead>
        <tr>
          <th scope="col">Region</th>
          <th scope="col" class="num">
            Ready
          </th>
          <th scope="col" class="num">
            Completed
          </th>
          <th scope="col" class="num">
            Requests
          </th>
          <th scope="col" class="num">
            p95
          </th>
          <th scope="col" class="num">
            Failed
          </th>
          <th scope="col" class="num">
            Dropped
          </th>
          <th scope="col">First request</th>
          <th scope="col">Result</th>
          <th scope="col">Torn down</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(run.regions)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([region, r]) => {
            const leftOut = run.participants !== undefined && !run.participants.includes(region);
            return (
              <tr key={region} data-region={region}>
                <td>
                  {region}
                  {leftOut && <span class="muted"> (left out)</span>}
                </td>
                <td class="num">
                  {r.ready.length} / {want}
                </td>
                <td class="num">
                  {r.completed.length} / {want}
                </td>
                <td class="num">{r.result?.requests ?? '-'}</td>
                <td class="num">{r.result ? `${Math.round(r.result.p95Ms)} ms` : '-'}</td>
                <td class="num">{r.result ? `${r.result.failed} (${percent(r.result.failedRate)})` : '-'}</td>
                <td class="num">{r.result?.dropped ?? '-'}</td>
                <td>
                  <Time iso={r.result?.firstRequestAt ?? undefined} />
                </td>
                <td>{r.result ? <StatusBadge status={r.result.passed ? 'passed' : 'failed'} /> : '-'}</td>
                <td>{r.tornDown ? 'yes' : 'no'}</td>
              </tr>
            );
          })}
      </tbody>
    </table>
  );
}

export function TestRunPage({ runId }: { runId: string }) {
  useTitle(`Test run ${runId}`);
  const now = useNow();
  const [run, setRun] = useState<TestRunView>();
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let stop: (() => void) | undefined;
    const load = async () => {
      const view = await getTestRun(runId, signal);
      if (!signal.aborted) {
        setRun(view);
        setError(undefined);
      }
      return view;
    };
    const refetch = debounce(() => {
      load().catch((e: unknown) => {
        if (!isAbort(e) && !signal.aborted) setError(e);
      });
    }, REFETCH_AFTER_MS);
    load()
      .then((first) => {
        if (signal.aborted) return;
        if (first.finished) {
          withoutStream('ended');
          return;
        }
        stop = follow({
          path: streams.testRun(runId),
          lastEventId: String(first.lastVersion),
          onFrame: () => refetch(),
          onOpen(reconnected) {
            if (reconnected) refetch();
          },
          async onEnd() {
            refetch.cancel();
            return !(await load()).finished;
          },
          onFail: setError,
        });
      })
      .catch((e: unknown) => {
        if (!isAbort(e) && !signal.aborted) setError(e);
      });
    return () => {
      controller.abort();
      refetch.cancel();
      stop?.();
    };
  }, [runId, attempt]);

  useAutoRetry(run === undefined ? error : undefined, () => setAttempt((n) => n + 1));

  if (run === undefined) {
    return (
      <section>
        <PageHead title={<span class="mono">Test run {runId}</span>} />
        {error !== undefined ? <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} /> : <Loading what="the test run" />}
      </section>
    );
  }
  const { request } = run;
  const scenarios = Object.entries(request.script.scenarios)
    .filter(([, rate]) => rate > 0)
    .map(([name, rate]) => `${name} ${rate}/s`)
    .join(', ');
  const readyRegions = Object.values(run.regions).filter((r) => r.ready.length >= request.containersPerRegion).length;
  return (
    <section>
      <PageHead
        title={
          <>
            Test run <span class="mono">{run.runId}</span>
          </>
        }
      >
        <StatusBadge status={run.status} testId="testrun-status" />
        {run.verdict && <StatusBadge status={run.verdict} testId="testrun-verdict" />}
        {run.finished && <span class="muted">finished</span>}
      </PageHead>
      {error !== undefined && <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      {run.reason && (
        <div class="notice notice-error" role="alert">
          <strong>{run.status === 'ABORTED' ? 'Aborted' : 'Stopped'}: </strong>
          {run.reason}
        </div>
      )}
      <dl class="facts">
        <dt>Script</dt>
        <dd>
          <code>{request.script.name}</code>, {duration(request.script.durationSeconds * 1_000)}: {scenarios || 'no scenarios'}
        </dd>
        <dt>Target</dt>
        <dd class="mono">{request.target}</dd>
        <dt>Load</dt>
        <dd>
          {request.vusPerRegion} virtual users per region, {request.containersPerRegion} runner{request.containersPerRegion === 1 ? '' : 's'} each
        </dd>
        <dt>Regions ready</dt>
        <dd>
          {readyRegions} of {request.regions.length} (the start needs {request.quorum})
        </dd>
        <dt>Start</dt>
        <dd>
          {run.startAt ? (
            <>
              <Time iso={run.startAt} now={now} /> <span class="muted">({relative(run.startAt, now)}{run.participants ? `; regions ${run.participants.join(', ')}` : ''})</span>
            </>
          ) : (
            <span class="muted">waiting for {request.quorum} of {request.regions.length} regions to be ready</span>
          )}
        </dd>
        <dt>Thresholds</dt>
        <dd>
          p95 ≤ {request.script.thresholds.p95Ms} ms, failed ≤ {percent(request.script.thresholds.failedRate)}, dropped ≤ {request.script.thresholds.droppedIterations}
        </dd>
        <dt>Requested</dt>
        <dd>
          <Time iso={run.requestedAt} now={now} />
        </dd>
        <dt>Deadline</dt>
        <dd>
          <Time iso={request.deadline} now={now} />
        </dd>
        {run.endedAt && (
          <>
            <dt>Ended</dt>
            <dd>
              <Time iso={run.endedAt} now={now} />
            </dd>
          </>
        )}
      </dl>
      <section class="panel" aria-label="Results by region">
        <h2>Regions</h2>
        <Regions run={run} />
      </section>
    </section>
  );
}
