/**
 * The build's artifact: a zip whose bytes depend only on what is built (repo, env, version,
 * branch, commit), so building twice gives the same sha256. Entries are sorted and every entry's
 * timestamp is fixed; fflate writes the zip (no ambient time or file-system order leaks in).
 */
import { createHash } from 'node:crypto';
import { strToU8, zipSync, type Zippable } from 'fflate';

export interface BuildSpec {
  buildId: string;
  repo: string;
  env: string;
  version: string;
  branch: string;
  commit: string;
}

export interface Artifact {
  bytes: Uint8Array;
  sha256: string;
}

/** DOS time cannot express dates before 1980; this is the earliest it can. */
const FIXED_MTIME = new Date('1980-01-01T00:00:00Z');

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Where a build's artifact lives in the global bucket: always under artifacts/. */
export const artifactKey = (spec: Pick<BuildSpec, 'repo' | 'env' | 'version' | 'buildId'>): string =>
  `artifacts/${spec.repo}/${spec.env}/${spec.version}/${spec.buildId}.zip`;

export function buildArtifact(spec: BuildSpec): Artifact {
  // The build id is deliberately not in the content: the same source yields the same bytes.
  const manifest = { repo: spec.repo, env: spec.env, version: spec.version, branch: spec.branch, commit: spec.commit };
  const files: Record<string, Uint8Array> = {
    'manifest.json': strToU8(`${JSON.stringify(manifest, null, 2)}\n`),
    'app/VERSION': strToU8(`${spec.version}\n`),
    'app/run.sh': strToU8(`#!/bin/sh\necho "${spec.repo} ${spec.version} (${spec.commit.slice(0, 12)}) on ${spec.env}"\n`),
  };
  const sorted: Zippable = Object.fromEntries(Object.keys(files).sort().map((name) => [name, [files[name] ?? new Uint8Array(), { mtime: FIXED_MTIME }]]));
  const bytes = zipSync(sorted, { level: 6 });
  return { bytes, sha256: sha256Hex(bytes) };
}
