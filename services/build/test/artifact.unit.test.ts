import { unzipSync, strFromU8 } from 'fflate';
import { describe, expect, it } from 'vitest';
import { artifactKey, buildArtifact, sha256Hex, type BuildSpec } from '../src/domain/artifact.ts';

const spec: BuildSpec = { buildId: '01JB0', repo: 'payments-api', env: 'prod', version: '1.4.2', branch: 'main', commit: 'a'.repeat(40) };

describe('buildArtifact', () => {
  it('is deterministic: the same source gives the same bytes and digest, whatever the build id', () => {
    const a = buildArtifact(spec);
    const b = buildArtifact({ ...spec, buildId: '01JB1' });
    expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
    expect(a.sha256).toBe(sha256Hex(a.bytes));
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when the source changes', () => {
    expect(buildArtifact({ ...spec, commit: 'b'.repeat(40) }).sha256).not.toBe(buildArtifact(spec).sha256);
  });

  it('is a readable zip holding the manifest', () => {
    const entries = unzipSync(buildArtifact(spec).bytes);
    expect(Object.keys(entries).sort()).toEqual(['app/VERSION', 'app/run.sh', 'manifest.json']);
    expect(JSON.parse(strFromU8(entries['manifest.json'] ?? new Uint8Array()))).toMatchObject({ repo: 'payments-api', version: '1.4.2' });
  });

  it('lives under artifacts/, never under incoming/', () => {
    expect(artifactKey(spec)).toBe('artifacts/payments-api/prod/1.4.2/01JB0.zip');
  });
});
