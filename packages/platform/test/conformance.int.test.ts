/**
 * The emulator conformance check as tests: one test per row (each asserts an observable outcome,
 * or a known gap and its workaround), and docs/local-aws.md must be exactly what the rows render.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { testAwsClients } from '@flotilla/platform/testing';
import { DOCS_PATH, renderDocs, runConformance } from '../conformance/run.ts';

const aws = testAwsClients();
// Run once at collection, so each row becomes its own test below.
const report = await runConformance(aws);
afterAll(() => aws.destroy());

describe(`MiniStack ${report.emulatorVersion} conformance`, () => {
  it('runs the pinned emulator version', () => {
    expect(report.emulatorVersion).toBe(report.pinnedVersion);
  });

  it.each(report.rows.map((r) => [`${r.area}: ${r.capability}`, r] as const))('%s', (_name, row) => {
    expect(row.passed, row.observed).toBe(true);
    if (row.result === 'gap') expect(row.workaround, 'a known gap needs its workaround').toBeTruthy();
  });

  it('docs/local-aws.md shows exactly this run (regenerate with `pnpm conformance --write-docs`)', () => {
    expect(readFileSync(DOCS_PATH, 'utf8')).toBe(renderDocs(report));
  });
});
