/**
 * The new build form (#/builds/new): POST /builds with an Idempotency-Key that stays the same while
 * the same content is submitted again. The API owns the rules: a 400's field lines are shown beside
 * their fields, a 503 backlog_full says when to retry, a 202 goes to the build's page.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getRegions, isAbort, requestBuild, type Regions } from '../api.ts';
import { navigate } from '../hash.ts';
import { idempotencyKeyFor, mapFieldErrors, newIdempotencyKey, requestBodyOf, type BuildFormField, type BuildFormValues, type FieldErrors, type IdempotencyKey } from '../model/form.ts';
import { hrefOf, KNOWN_ENVS } from '../router.ts';
import { withoutStream } from '../stream.ts';
import { describeError, ErrorNotice, Loading, PageHead, useTitle } from './common.tsx';

type TextField = Exclude<BuildFormField, 'regions'>;

const EMPTY: BuildFormValues = { repo: '', env: '', version: '', branch: 'main', commit: '', regions: undefined, hostsPerRegion: '' };

const NO_ERRORS: FieldErrors = { byField: {}, form: [] };

function Field({ name, label, hint, errors, children }: { name: BuildFormField; label: string; hint?: string; errors: string[] | undefined; children: ComponentChildren }) {
  return (
    <div class={`field${errors ? ' field-invalid' : ''}`}>
      <label for={`field-${name}`}>{label}</label>
      {children}
      {hint && !errors && <span class="hint">{hint}</span>}
      {errors && (
        <span class="field-error" id={`error-${name}`} data-field-error={name}>
          {errors.join('; ')}
        </span>
      )}
    </div>
  );
}

type Submission = { state: 'idle' | 'sending' } | { state: 'failed'; error: unknown };

export function NewBuild() {
  useTitle('New build');
  const [values, setValues] = useState<BuildFormValues>(EMPTY);
  const [regions, setRegions] = useState<{ loaded?: Regions; error?: unknown }>({});
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [submission, setSubmission] = useState<Submission>({ state: 'idle' });
  const key = useRef<IdempotencyKey | undefined>(undefined);

  useEffect(() => {
    withoutStream('idle');
    const controller = new AbortController();
    getRegions(controller.signal).then(
      (loaded) => {
        setRegions({ loaded });
        setValues((v) => ({ ...v, regions: v.regions ?? [...loaded.defaults.regions], hostsPerRegion: v.hostsPerRegion || String(loaded.defaults.hostsPerRegion) }));
      },
      (error: unknown) => {
        if (!isAbort(error)) setRegions({ error });
      },
    );
    return () => controller.abort();
  }, []);

  const setText = (name: TextField) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement).value;
    setValues((v) => ({ ...v, [name]: value }));
  };
  const toggleRegion = (region: string, checked: boolean) => {
    const all = regions.loaded?.regions ?? [];
    setValues((v) => {
      const chosen = new Set(v.regions ?? []);
      if (checked) chosen.add(region);
      else chosen.delete(region);
      // In the service's order, so the same choice is the same request (and the same key).
      return { ...v, regions: all.filter((r) => chosen.has(r)) };
    });
  };

  const submit = (event: Event) => {
    event.preventDefault();
    if (submission.state === 'sending') return;
    const body = requestBodyOf(values);
    const idempotency = idempotencyKeyFor(key.current, body, newIdempotencyKey);
    key.current = idempotency;
    setSubmission({ state: 'sending' });
    requestBuild(body, idempotency.key).then(
      (accepted) => navigate(hrefOf({ name: 'build', buildId: accepted.buildId })),
      (error: unknown) => {
        if (error instanceof ApiError && error.status === 400) {
          const mapped = mapFieldErrors(error.fields);
          setErrors(error.fields.length > 0 ? mapped : { byField: {}, form: [error.message] });
          setSubmission({ state: 'idle' });
          return;
        }
        // A key the API has seen with other content is of no further use.
        if (error instanceof ApiError && error.code === 'idempotency_key_reused') key.current = undefined;
        setErrors(NO_ERRORS);
        setSubmission({ state: 'failed', error });
      },
    );
  };

  const text = (name: TextField, props: { placeholder?: string; list?: string; inputMode?: 'numeric'; type?: 'text' | 'number' } = {}) => {
    const fieldErrors = errors.byField[name];
    return (
      <input
        id={`field-${name}`}
        name={name}
        type={props.type ?? 'text'}
        value={values[name]}
        onInput={setText(name)}
        spellcheck={false}
        autoComplete="off"
        aria-invalid={fieldErrors ? true : undefined}
        aria-describedby={fieldErrors ? `error-${name}` : undefined}
        placeholder={props.placeholder}
        list={props.list}
        inputMode={props.inputMode}
      />
    );
  };

  const failed = submission.state === 'failed' ? submission.error : undefined;
  const checked = new Set(values.regions ?? []);
  const regionErrors = errors.byField.regions;
  return (
    <section>
      <PageHead title="New build" />
      <form aria-label="New build" class="card form" onSubmit={submit} noValidate>
        {errors.form.length > 0 && (
          <div class="notice notice-error" role="alert">
            <strong>The build service refused the request</strong>
            <ul>
              {errors.form.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </div>
        )}
        {Object.keys(errors.byField).length > 0 && errors.form.length === 0 && (
          <p class="notice notice-error" role="alert">
            Check the fields marked below.
          </p>
        )}
        {failed !== undefined && <Refused error={failed} />}
        <div class="form-grid">
          <Field name="repo" label="Repository" errors={errors.byField.repo}>
            {text('repo', { placeholder: 'payments-api' })}
          </Field>
          <Field name="env" label="Environment" hint="dev, staging, prod, or another (a-z 0-9 -)" errors={errors.byField.env}>
            {text('env', { placeholder: 'staging', list: 'known-envs' })}
            <datalist id="known-envs">
              {KNOWN_ENVS.map((env) => (
                <option key={env} value={env} />
              ))}
            </datalist>
          </Field>
          <Field name="version" label="Version" errors={errors.byField.version}>
            {text('version', { placeholder: '1.4.2' })}
          </Field>
          <Field name="branch" label="Branch" errors={errors.byField.branch}>
            {text('branch')}
          </Field>
          <Field name="commit" label="Commit" hint="7-40 lowercase hex characters" errors={errors.byField.commit}>
            {text('commit', { placeholder: 'a1b2c3d' })}
          </Field>
          <Field name="hostsPerRegion" label="Hosts per region" errors={errors.byField.hostsPerRegion}>
            {text('hostsPerRegion', { type: 'number', inputMode: 'numeric' })}
          </Field>
        </div>
        <fieldset class={`field regions-field${regionErrors ? ' field-invalid' : ''}`} aria-describedby={regionErrors ? 'error-regions' : undefined}>
          <legend>Regions</legend>
          {regions.loaded ? (
            <div class="checks">
              {regions.loaded.regions.map((region) => (
                <label key={region} class="check">
                  <input type="checkbox" name="regions" value={region} checked={checked.has(region)} onChange={(e) => toggleRegion(region, e.currentTarget.checked)} />
                  {region}
                </label>
              ))}
            </div>
          ) : regions.error !== undefined ? (
            <p class="muted">Could not load the regions ({describeError(regions.error).title}); the service's default regions will be used.</p>
          ) : (
            <Loading what="regions" />
          )}
          {regionErrors && (
            <span class="field-error" id="error-regions" data-field-error="regions">
              {regionErrors.join('; ')}
            </span>
          )}
        </fieldset>
        <div class="form-actions">
          <button type="submit" class="button-primary" disabled={submission.state === 'sending'}>
            Request build
          </button>
          {submission.state === 'sending' && <span class="muted">Requesting…</span>}
        </div>
      </form>
    </section>
  );
}

/** A refusal that is not about a field: the backlog (with when to retry), AWS, the network, or another answer. */
function Refused({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === 'backlog_full') {
    return (
      <div class="notice notice-warn" role="alert">
        <strong>The build service is at its backlog limit</strong>
        <span class="notice-detail">{error.message}</span>
        {error.retryAfterSeconds !== undefined && <span class="notice-detail">Retry after {error.retryAfterSeconds} s: submitting the same form again reuses its Idempotency-Key.</span>}
      </div>
    );
  }
  return <ErrorNotice error={error} />;
}
