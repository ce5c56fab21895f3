/**
 * A service creation's page (#/services/<name>): each step with its pull request, workflow run or
 * build, what the creation waits on (stuck past its deadline), and why it failed. There is no
 * stream for it: the page asks again every 2 s while the creation is in progress.
 */
import { useEffect, useState } from 'preact/hooks';
import { getService, isAbort, isTransient, type ServiceView } from '../api.ts';
import { hrefOf } from '../router.ts';
import { withoutStream } from '../stream.ts';
import { ErrorNotice, Fact, Loading, PageHead, StatusBadge, Time, useNow, useTitle } from './common.tsx';

const POLL_MS = 2_000;

type Step = ServiceView['steps'][number];

function StepItem({ step, failed }: { step: Step; failed: boolean }) {
  const { pullRequest, workflowRun, build } = step;
  return (
    <li class={`step${step.done ? ' step-done' : ''}${failed ? ' step-failed' : ''}`} data-step={step.step} data-status={step.status}>
      <span class="step-mark" aria-hidden="true">
        {failed ? '✕' : step.done ? '✓' : '•'}
      </span>
      <span class="step-name">{step.step}</span>
      <span class={`chip step-status-${step.status}`}>{step.status}</span>
      <span class="step-links">
        {pullRequest && (
          <span>
            <a href={pullRequest.url} target="_blank" rel="noreferrer">
              {pullRequest.repo}#{pullRequest.number}
            </a>
            {pullRequest.autoMerge && <span class="muted"> auto-merge</span>}
            {pullRequest.mergedSha && <span class="muted mono"> merged {pullRequest.mergedSha.slice(0, 7)}</span>}
            {pullRequest.closed && <span class="error-text"> closed: {pullRequest.closed}</span>}
          </span>
        )}
        {workflowRun && (
          <span>
            <a href={workflowRun.url} target="_blank" rel="noreferrer">
              {workflowRun.workflow} run {workflowRun.runId}
            </a>
            {workflowRun.conclusion && <span class={workflowRun.conclusion === 'success' ? 'muted' : 'error-text'}> {workflowRun.conclusion}</span>}
            {workflowRun.headSha && <span class="muted mono"> on {workflowRun.headSha.slice(0, 7)}</span>}
          </span>
        )}
        {build && (
          <span>
            <a href={hrefOf({ name: 'build', buildId: build.buildId })} class="mono">
              build {build.buildId}
            </a>{' '}
            {build.status && <StatusBadge status={build.status} />}
            {build.reason && <span class="error-text"> {build.reason}</span>}
          </span>
        )}
      </span>
    </li>
  );
}

export function ServicePage({ name }: { name: string }) {
  useTitle(`Service ${name}`);
  const now = useNow();
  const [service, setService] = useState<ServiceView>();
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () => {
      getService(name, signal).then(
        (view) => {
          if (signal.aborted) return;
          setService(view);
          setError(undefined);
          if (view.status === 'IN_PROGRESS') {
            withoutStream('polling');
            timer = setTimeout(poll, POLL_MS);
          } else {
            withoutStream('ended');
          }
        },
        (e: unknown) => {
          if (isAbort(e) || signal.aborted) return;
          setError(e);
          if (isTransient(e)) timer = setTimeout(poll, POLL_MS);
          else withoutStream('idle');
        },
      );
    };
    poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
      withoutStream('idle');
    };
  }, [name, attempt]);

  if (service === undefined) {
    return (
      <section>
        <PageHead title={`Service ${name}`} />
        {error !== undefined ? <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} /> : <Loading what="the service creation" />}
      </section>
    );
  }
  const waiting = service.waitingOn;
  return (
    <section>
      <PageHead title={`Service ${service.name}`}>
        <StatusBadge status={service.status} testId="service-status" />
      </PageHead>
      {error !== undefined && <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      {service.status === 'FAILED' && (
        <div class="notice notice-error" role="alert" data-testid="service-failure">
          <strong>Failed{service.failedStep ? ` at ${service.failedStep}` : ''}</strong>
          {service.reason && <span class="notice-detail">{service.reason}</span>}
        </div>
      )}
      {waiting && (
        <div class={`notice ${waiting.stuck ? 'notice-error' : 'notice-info'}`} data-testid="waiting-on" role={waiting.stuck ? 'alert' : undefined}>
          <strong>
            {waiting.stuck ? 'Stuck: ' : 'Waiting: '}
            {waiting.step} waits for {waiting.waitingFor}
          </strong>
          <span class="notice-detail">
            since <Time iso={waiting.since} now={now} relativeFirst />, deadline <Time iso={waiting.deadline} now={now} relativeFirst />
          </span>
        </div>
      )}
      <dl class="facts inline">
        <Fact label="Team">{service.team}</Fact>
        <Fact label="Template">{service.template}</Fact>
        <Fact label="Environments">{service.environments.join(', ')}</Fact>
        <Fact label="Requested">
          <Time iso={service.requestedAt} now={now} />
        </Fact>
        {service.endedAt && (
          <Fact label="Ended">
            <Time iso={service.endedAt} now={now} />
          </Fact>
        )}
      </dl>
      <section class="panel">
        <h2>Steps</h2>
        <ol class="steps" aria-label="Steps">
          {service.steps.map((step) => (
            <StepItem key={step.step} step={step} failed={service.failedStep === step.step} />
          ))}
        </ol>
      </section>
    </section>
  );
}
