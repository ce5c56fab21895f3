/**
 * `node packages/platform/conformance/cli.ts [--write-docs]`: runs the conformance check against
 * AWS_ENDPOINT_URL (default the local emulator), prints the table, exits 1 on any failed row.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { testAwsClients } from '../src/testing/index.ts';
import { DOCS_PATH, renderDocs, renderTable, runConformance } from './run.ts';

const { values } = parseArgs({ options: { 'write-docs': { type: 'boolean', default: false } } });
const aws = testAwsClients();
const report = await runConformance(aws);
aws.destroy();
console.log(renderTable(report.rows));
const failed = report.rows.filter((r) => !r.passed);
console.log(`\n${report.rows.length} rows on MiniStack ${report.emulatorVersion} in ${(report.durationMs / 1000).toFixed(1)} s: ${failed.length} failed`);
if (values['write-docs']) {
  if (failed.length > 0) console.error('not writing docs/local-aws.md: the check failed');
  else {
    writeFileSync(DOCS_PATH, renderDocs(report));
    console.log(`wrote ${DOCS_PATH}`);
  }
}
process.exit(failed.length > 0 ? 1 : 0);
