/**
 * The licence check (scripts/licenses.ts), which scripts/test.sh runs over the production
 * dependencies: it must fail on copyleft or unstated licences in what ships, and pass on this
 * workspace as installed.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { installedProdListing, isCopyleft, licenceFindings, listingSchema } from '../../scripts/licenses.ts';
import copyleftListing from './copyleft-listing.json' with { type: 'json' };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const script = fileURLToPath(new URL('../../scripts/licenses.ts', import.meta.url));
const fixture = fileURLToPath(new URL('./copyleft-listing.json', import.meta.url));

describe('the licence check', () => {
  it('reads SPDX expressions: OR lets the shipper pick, AND needs every part permissive', () => {
    expect(isCopyleft('MIT')).toBe(false);
    expect(isCopyleft('Apache-2.0 WITH LLVM-exception')).toBe(false);
    expect(isCopyleft('AGPL-3.0-or-later')).toBe(true);
    expect(isCopyleft('(MIT OR GPL-3.0-or-later)')).toBe(false);
    expect(isCopyleft('(MIT AND LGPL-2.1-only)')).toBe(true);
    expect(isCopyleft('GPL-2.0-only WITH Classpath-exception-2.0')).toBe(true);
    expect(isCopyleft('SSPL-1.0')).toBe(true);
    expect(isCopyleft('EUPL-1.2')).toBe(true);
  });

  it('names each copyleft or unlicensed package of a listing', () => {
    expect(licenceFindings(listingSchema.parse(copyleftListing)).map((f) => `${f.name} ${f.problem}`)).toEqual([
      '@cloud-copilot/iam-simulate copyleft',
      'no-licence-field no licence stated',
      'some-lgpl-lib copyleft',
    ]);
  });

  it('fails the command on a copyleft listing, naming the package', () => {
    const run = spawnSync(process.execPath, [script, fixture], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('@cloud-copilot/iam-simulate@0.1.173 is AGPL-3.0-or-later (copyleft) and ships');
  });

  it('passes on the installed production dependencies, which leave the test-only AGPL evaluator out', () => {
    const listing = installedProdListing(ROOT);
    expect(licenceFindings(listing)).toEqual([]);
    const shipped = Object.values(listing).flat().map((p) => p.name);
    expect(shipped).toContain('@aws-sdk/client-dynamodb');
    expect(shipped).not.toContain('@cloud-copilot/iam-simulate');
  });
});
