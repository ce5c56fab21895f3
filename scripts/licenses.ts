/**
 * The licence check of what ships: every package in the production dependency closure of the
 * workspace (what a service's image needs at run time), as pnpm lists it from the installed
 * node_modules (`pnpm licenses list --prod --json -r`, no network). A copyleft licence there
 * (GPL, AGPL, LGPL, SSPL, EUPL, OSL, CPAL, ...) or a package without a licence fails the check:
 * Flotilla is Apache-2.0 and its users must be able to ship it under those terms. Test-only tools
 * (such as @cloud-copilot/iam-simulate, AGPL-3.0) are dev dependencies and are not in the closure.
 *
 *   node scripts/licenses.ts            check the installed workspace
 *   node scripts/licenses.ts <file>     check a saved `pnpm licenses list --json` listing
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** `pnpm licenses list --json`: licence expression -> packages under it. */
export const listingSchema = z.record(z.string(), z.array(z.object({ name: z.string(), versions: z.array(z.string()), license: z.string().optional() })));
export type Listing = z.infer<typeof listingSchema>;

/** SPDX ids (and prefixes) of licences whose terms reach the work that ships them. */
const COPYLEFT = /\b(AGPL|LGPL|GPL|SSPL|EUPL|OSL|CPAL|RPL|Sleepycat|CC-BY-SA|CC-BY-NC|Parity|QPL)\b/i;
/** pnpm's answer when a package states no licence. */
const UNSTATED = /^(unknown|unlicensed|see license in .*)$/i;

/**
 * Whether an SPDX expression forces copyleft terms: `A OR B` is fine when either side is (the
 * shipper picks), `A AND B` only when both are. WITH exceptions keep the licence they modify.
 */
export function isCopyleft(expression: string): boolean {
  const alternatives = expression.replace(/[()]/g, ' ').split(/\s+OR\s+/i);
  return alternatives.every((alternative) => alternative.split(/\s+AND\s+/i).some((part) => COPYLEFT.test(part.replace(/\s+WITH\s+.*/i, ''))));
}

export interface Finding {
  name: string;
  versions: string[];
  license: string;
  problem: 'copyleft' | 'no licence stated';
}

export function licenceFindings(listing: Listing): Finding[] {
  const findings: Finding[] = [];
  for (const [license, packages] of Object.entries(listing)) {
    const problem = UNSTATED.test(license.trim()) ? 'no licence stated' : isCopyleft(license) ? 'copyleft' : undefined;
    if (!problem) continue;
    for (const p of packages) findings.push({ name: p.name, versions: p.versions, license, problem });
  }
  return findings.sort((a, b) => a.name.localeCompare(b.name));
}

export function installedProdListing(cwd: string): Listing {
  const out = execFileSync('pnpm', ['licenses', 'list', '--prod', '--json', '-r'], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return listingSchema.parse(JSON.parse(out));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  const root = fileURLToPath(new URL('..', import.meta.url));
  const listing = file ? listingSchema.parse(JSON.parse(readFileSync(file, 'utf8'))) : installedProdListing(root);
  const counts = Object.entries(listing).map(([license, packages]) => `${license} ${packages.length}`);
  console.log(`licences of the production dependencies: ${counts.join(', ')}`);
  const findings = licenceFindings(listing);
  for (const f of findings) console.error(`licence: ${f.name}@${f.versions.join(',')} is ${f.license} (${f.problem}) and ships`);
  if (findings.length > 0) {
    console.error(`licence check FAILED: ${findings.length} shipped package(s) under copyleft or no licence`);
    process.exit(1);
  }
  console.log('licence check: nothing copyleft ships');
}
