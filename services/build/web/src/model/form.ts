/**
 * The new build form's logic: the request body its inputs make, the Idempotency-Key a resubmission
 * reuses, and where each line of a 400's `fields` is shown. Pure.
 */
import type { BuildRequestBody } from '../api.ts';

export const BUILD_FORM_FIELDS = ['repo', 'env', 'version', 'branch', 'commit', 'regions', 'hostsPerRegion'] as const;
export type BuildFormField = (typeof BUILD_FORM_FIELDS)[number];

/** What the inputs hold, as typed. */
export interface BuildFormValues {
  repo: string;
  env: string;
  version: string;
  branch: string;
  commit: string;
  /** The checked regions, or undefined when the region list could not be loaded (the service's defaults then apply). */
  regions: string[] | undefined;
  hostsPerRegion: string;
}

/**
 * The body to POST. Text is trimmed; an empty hostsPerRegion is left out (the service's default);
 * anything else is sent as typed, so the API, which owns the rules, says what is wrong with it.
 */
export function requestBodyOf(values: BuildFormValues): BuildRequestBody {
  const hosts = values.hostsPerRegion.trim();
  return {
    repo: values.repo.trim(),
    env: values.env.trim(),
    version: values.version.trim(),
    branch: values.branch.trim(),
    commit: values.commit.trim(),
    ...(values.regions === undefined ? {} : { regions: values.regions }),
    ...(hosts === '' ? {} : { hostsPerRegion: Number(hosts) }),
  };
}

export interface IdempotencyKey {
  key: string;
  /** The body the key was made for. */
  body: string;
}

/**
 * The key for submitting `body`: the previous one while the same content is submitted again (a
 * retry after a timeout or a 503 then finds the same build), a new one once the content changed.
 */
export function idempotencyKeyFor(previous: IdempotencyKey | undefined, body: BuildRequestBody, newKey: () => string): IdempotencyKey {
  const canonical = JSON.stringify([body.repo, body.env, body.version, body.branch, body.commit, body.regions ?? null, body.hostsPerRegion ?? null]);
  return previous?.body === canonical ? previous : { key: newKey(), body: canonical };
}

/**
 * A UUID v4 for Idempotency-Key. crypto.randomUUID exists only in secure contexts (https, or
 * localhost); a console served over plain http elsewhere builds one from getRandomValues.
 */
export function newIdempotencyKey(crypto: { getRandomValues(array: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>; randomUUID?: () => string } = globalThis.crypto): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface FieldErrors {
  /** Messages shown beside each field. */
  byField: Partial<Record<BuildFormField, string[]>>;
  /** Messages for the form as a whole: lines whose path is no field of the form. */
  form: string[];
}

const isField = (name: string): name is BuildFormField => (BUILD_FORM_FIELDS as readonly string[]).includes(name);

/**
 * Where each `path: message` line of a 400 goes: its path's first segment names the field
 * (`regions.0: must be one of ...` goes beside the regions); a path that names no field of the form
 * (`(root)`, a header such as `Idempotency-Key`) goes to the form. An element's index is kept in
 * the message (`#1: must be one of ...`), so two bad regions can be told apart.
 */
export function mapFieldErrors(lines: readonly string[]): FieldErrors {
  const errors: FieldErrors = { byField: {}, form: [] };
  for (const line of lines) {
    const colon = line.indexOf(': ');
    const path = colon === -1 ? '' : line.slice(0, colon);
    const message = colon === -1 ? line : line.slice(colon + 2);
    const [field, ...rest] = path.split('.');
    if (field !== undefined && isField(field)) {
      const where = rest.length > 0 && /^\d+$/.test(rest[0] ?? '') ? `#${Number(rest[0]) + 1}: ` : '';
      (errors.byField[field] ??= []).push(`${where}${message}`);
    } else {
      errors.form.push(line);
    }
  }
  return errors;
}
