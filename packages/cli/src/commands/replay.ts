import { defineCommand } from 'citty';
import cliProgress from 'cli-progress';
import { EventStore, replay, resourceNames, type ReplayProgress } from '@flotilla/platform';
import { withAws } from '../aws.ts';
import { ExitError, UserError } from '../errors.ts';
import { note, print, printJson, stdoutIsTty } from '../output.ts';
import { awsArgs, settingsOf } from './_shared.ts';

/** Progress on stderr: a bar per phase on a terminal, a line per phase otherwise (stdout stays the report's). */
function progressReporter(): { update(p: ReplayProgress): void; stop(): void } {
  if (!stdoutIsTty() || !process.stderr.isTTY) {
    let phase: string | undefined;
    return {
      update(p) {
        if (p.phase === phase) return;
        phase = p.phase;
        note(`replay: ${p.phase} (${p.eventsRead} events read)`);
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar({ format: '{phase} [{bar}] {value}/{total} | {events} events read', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  let phase: string | undefined;
  return {
    update(p) {
      // The log's length is not known ahead: its bar counts events against a total that grows.
      const total = p.total ?? Math.max(p.done, 1);
      if (p.phase !== phase) {
        if (phase) bar.stop();
        phase = p.phase;
        bar.start(total, p.done, { phase: p.phase, events: p.eventsRead });
      } else {
        bar.setTotal(total);
        bar.update(p.done, { events: p.eventsRead });
      }
    },
    stop: () => bar.stop(),
  };
}

export default defineCommand({
  meta: {
    name: 'replay',
    description: 'Rebuild every projection from the log (build view, build list; host counters from host records) into fresh tables and compare them with the live ones',
  },
  args: {
    since: { type: 'string', description: 'Read the log from this ISO-8601 time (default: the log epoch, 2026-01-01)', valueHint: 'time' },
    keep: { type: 'boolean', description: 'Keep the fresh tables (their names are printed) instead of dropping them', default: false },
    json: { type: 'boolean', description: 'Print exactly the report as JSON on stdout, nothing else', default: false },
    ...awsArgs,
  },
  async run({ args }) {
    const settings = settingsOf(args);
    const since = args.since === undefined ? undefined : new Date(args.since);
    if (since && Number.isNaN(since.getTime())) throw new UserError(`--since ${args.since} is not an ISO-8601 time`);
    const names = resourceNames(settings.prefix);
    const progress = progressReporter();
    const report = await withAws(settings, (aws) =>
      replay({ db: aws.dynamodb, store: new EventStore(aws.dynamodb, names.tables.events), names, ...(since ? { since } : {}), keep: args.keep, onProgress: (p) => progress.update(p) }),
    ).finally(() => progress.stop());
    // Differences exit 1, so a script or CI can tell a clean replay from one that found drift.
    if (args.json) {
      printJson(report);
      if (report.differences.length > 0) throw new ExitError(1);
      return;
    }
    for (const u of report.unreadable) print(`unreadable event ${u.stream} v${u.version}: ${u.reason}`);
    for (const d of report.differences) {
      print(`${d.kind} ${d.key}: ${d.change === 'missing' ? 'missing from the live table' : d.change === 'extra' ? 'in the live table, not in the log' : 'differs'}`);
      for (const f of d.fields ?? []) print(`    ${f.field}: live ${JSON.stringify(f.live)} | rebuilt ${JSON.stringify(f.rebuilt)}`);
    }
    print(`${report.differences.length} differences`);
    print(
      `${report.eventsRead} events read (${report.eventsFilled} filled from streams), ${report.builds} builds, ${report.seconds.toFixed(1)} s, ${Math.round(report.eventsPerSecond)} events/s`,
    );
    if (args.keep) print(`fresh tables kept: ${report.tables.projections}, ${report.tables.builds}`);
    if (report.differences.length > 0) throw new ExitError(1);
  },
});
