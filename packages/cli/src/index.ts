#!/usr/bin/env node
/**
 * The `flotilla` CLI entry: parse argv with citty, run the command, exit once. citty's runMain
 * owns --help and usage errors (usage + exit 1); every error a command throws is caught by the
 * guard below and mapped to an exit code in `exit`, the one place this process ends.
 */
import { defineCommand, runMain, type Resolvable, type SubCommandsDef } from 'citty';
import { ExitError, UserError } from './errors.ts';
import { note } from './output.ts';

type AnyCommand = SubCommandsDef[string] extends Resolvable<infer C> ? C : never;

const root = defineCommand({
  meta: { name: 'flotilla', version: '0.1.0', description: 'Submit, follow and explain Flotilla builds; create new services and follow their creation; run regional load tests; replay the log; inspect dead-letter queues' },
  subCommands: {
    builds: () => import('./commands/builds/index.ts').then((m) => m.default),
    events: () => import('./commands/events/index.ts').then((m) => m.default),
    dlq: () => import('./commands/dlq/index.ts').then((m) => m.default),
    why: () => import('./commands/why.ts').then((m) => m.default),
    replay: () => import('./commands/replay.ts').then((m) => m.default),
    testruns: () => import('./commands/testruns/index.ts').then((m) => m.default),
    services: () => import('./commands/services/index.ts').then((m) => m.default),
  },
});

async function resolveValue<T>(value: Resolvable<T>): Promise<T> {
  return typeof value === 'function' ? await (value as () => T | Promise<T>)() : await value;
}

let failure: { error: unknown } | undefined;

/** The same command tree, with each command's run caught so its error reaches `exit` instead of runMain's catch-all. */
function guarded(command: AnyCommand): AnyCommand {
  const { run, subCommands } = command;
  return {
    ...command,
    ...(subCommands
      ? {
          subCommands: async () =>
            Object.fromEntries(Object.entries(await resolveValue(subCommands)).map(([name, sub]) => [name, async () => guarded(await resolveValue(sub))])),
        }
      : {}),
    ...(run
      ? {
          run: async (context: Parameters<typeof run>[0]) => {
            try {
              return (await run(context)) as unknown;
            } catch (error) {
              failure = { error };
              return undefined;
            }
          },
        }
      : {}),
  };
}

/** Maps how the command ended to an exit code, saying why on stderr; the only process.exit. */
function exit(error: unknown): never {
  if (error === undefined) process.exit(0);
  if (error instanceof ExitError) process.exit(error.code);
  if (error instanceof UserError) {
    note(`error: ${error.message}`);
    if (error.hint) note(`hint: ${error.hint}`);
    process.exit(error.code);
  }
  // A ConfigError from the environment is the user's to fix, not a bug.
  if (error instanceof Error && error.name === 'ConfigError') {
    note(`error: ${error.message}`);
    process.exit(1);
  }
  note(error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : JSON.stringify(error));
  note('error: the command failed unexpectedly; this is a bug. Please report it with the output above.');
  process.exit(1);
}

if (import.meta.main) {
  runMain(guarded(root)).then(
    () => exit(failure?.error),
    (error: unknown) => exit(error),
  );
}
