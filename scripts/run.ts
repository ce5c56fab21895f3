/**
 * `scripts/run.sh` ends here, once tools are installed:
 *
 *   node scripts/run.ts [--prefix flotilla] [--port-base 8080] [--github-port 8090] [--fresh]
 *
 * Checks every port it would listen on, then makes sure the emulator answers (starting it, with
 * its state persisted under .run/, when nothing does), deploys the stack, starts the local GitHub
 * simulator for onboarding (packages/github-sim: webhooks signed with a fresh secret to the build
 * API; unless GITHUB_API_URL names a GitHub to use instead), starts every service
 * (on loopback, with the API token from .run/api-token, made when missing) and prints where to
 * look and how to call the API. This command owns what it starts at every moment: the signal handlers are
 * installed before anything starts, each process is tracked from the moment it is spawned, and a
 * failed start or a Ctrl-C at any point stops the services it started, then the emulator if it
 * started it (which saves its state first), and exits non-zero (130 after Ctrl-C).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { isAbsolute, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startGitHubSim, type GitHubSim } from '@flotilla/github-sim';
import { createAwsClients, deployStack, FlotillaError, prefixSchema } from '@flotilla/platform';
import { ensureApiToken } from './api-token.ts';
import { scriptEnv } from './config.ts';
import { DEFAULT_PORT_BASE, ROOT, SERVICES, servicePorts, startFleet, waitHealthy, type Fleet, type ServiceName } from './fleet.ts';

/** The run cannot start as asked (a port in use, --fresh against someone else's emulator). */
class StartRefusedError extends FlotillaError {
  readonly retryable = false;
}

/** A signal asked the run to stop; carries the exit code a shell expects (128 + signal number). */
class InterruptedError extends FlotillaError {
  readonly retryable = false;
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals, exitCode: number) {
    super(`interrupted by ${signal}`, { signal });
    this.exitCode = exitCode;
  }
}

const argsSchema = z.object({
  prefix: prefixSchema,
  fresh: z.boolean().describe('Start the emulator empty: wipe its saved state first'),
  'port-base': z.coerce
    .number()
    .int()
    .min(1024)
    .max(65535 - SERVICES.length)
    .describe(`First service port; each service keeps its offset from ${DEFAULT_PORT_BASE} in deploy/services.json`),
  'github-port': z.coerce.number().int().min(1024).max(65535).describe('Port of the local GitHub simulator (onboarding)'),
});
const parsedArgs = argsSchema.safeParse(
  parseArgs({
    options: {
      prefix: { type: 'string', default: 'flotilla' },
      fresh: { type: 'boolean', default: false },
      'port-base': { type: 'string', default: String(DEFAULT_PORT_BASE) },
      'github-port': { type: 'string', default: '8090' },
    },
  }).values,
);
if (!parsedArgs.success) {
  console.error(`run: ${z.prettifyError(parsedArgs.error)}`);
  process.exit(2);
}
const args = parsedArgs.data;

const env = {
  AWS_ENDPOINT_URL: scriptEnv.AWS_ENDPOINT_URL,
  AWS_REGION: scriptEnv.AWS_REGION,
  AWS_ACCESS_KEY_ID: scriptEnv.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: scriptEnv.AWS_SECRET_ACCESS_KEY,
  LOG_LEVEL: scriptEnv.LOG_LEVEL,
  HOST: scriptEnv.HOST,
};
const emulatorPort = Number(new URL(env.AWS_ENDPOINT_URL).port || '80');
const say = (line: string) => process.stdout.write(`\x1b[1;34m[flotilla]\x1b[0m ${line}\n`);
const warn = (line: string) => process.stderr.write(`\x1b[1;31m[flotilla]\x1b[0m ${line}\n`);

// --- Ownership: installed before anything starts ------------------------------------------------
const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals, exitCode: number) => {
  if (interrupt.signal.aborted) {
    say('already stopping everything this command started; the emulator may be saving its state');
    return;
  }
  say(`${signal}: stopping everything this command started`);
  interrupt.abort(new InterruptedError(signal, exitCode));
};
process.on('SIGINT', () => onSignal('SIGINT', 130));
process.on('SIGTERM', () => onSignal('SIGTERM', 143));
process.on('SIGHUP', () => onSignal('SIGHUP', 129));

/** Everything this command started, so the stop at the end stops exactly that. */
const owned: { emulator: boolean; emulatorScript?: ChildProcess; github?: GitHubSim; fleetStart?: Promise<Fleet>; fleet?: Fleet } = { emulator: false };

/** Rejects as soon as the run is interrupted; the work itself is stopped by the owner, not here. */
function unlessInterrupted<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined); // an abandoned step's late failure is not news
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      if (interrupt.signal.aborted) reject(interrupt.signal.reason as Error);
      interrupt.signal.addEventListener('abort', () => reject(interrupt.signal.reason as Error), { once: true });
    }),
  ]);
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Runs scripts/emulator.sh in its own process group, so a second Ctrl-C in the terminal cannot cut
 * short a stop that is saving the emulator's state; this command forwards the interrupt itself.
 */
function emulatorScript(args: string[]): ChildProcess {
  return spawn('bash', [`${ROOT}/scripts/emulator.sh`, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
    env: {
      ...process.env,
      ...env,
      EMULATOR_PERSIST: scriptEnv.EMULATOR_PERSIST,
      ...(scriptEnv.EMULATOR_STATE_DIR ? { EMULATOR_STATE_DIR: scriptEnv.EMULATOR_STATE_DIR } : {}),
    },
  });
}

async function emulatorAnswers(): Promise<boolean> {
  try {
    await fetch(env.AWS_ENDPOINT_URL, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

/** Whether nothing listens on the port, tried the way the listener would bind it. */
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Every port this run would listen on, checked before anything starts; all conflicts at once. */
async function checkPorts(startsEmulator: boolean): Promise<void> {
  const wanted: { port: number; host: string; who: string; setting: string }[] = servicePorts(args['port-base']).map(({ name, port }) => ({
    port,
    host: env.HOST, // where the services will listen (HOST, loopback by default)
    who: `the ${name} service`,
    setting: `--port-base <n> (the services use n..n+${SERVICES.length - 1}; now ${args['port-base']})`,
  }));
  if (!scriptEnv.GITHUB_API_URL) {
    wanted.push({ port: args['github-port'], host: '127.0.0.1', who: 'the local GitHub simulator', setting: `--github-port <n> (now ${args['github-port']})` });
  }
  if (startsEmulator) {
    wanted.push({
      port: emulatorPort,
      host: '127.0.0.1',
      who: 'the emulator (something holds the port but does not answer HTTP as the emulator)',
      setting: `AWS_ENDPOINT_URL=http://127.0.0.1:<port> (now ${env.AWS_ENDPOINT_URL})`,
    });
  }
  const taken = [];
  for (const want of wanted) if (!(await portFree(want.port, want.host))) taken.push(want);
  if (taken.length === 0) return;
  const lines = taken.map((t) => `port ${t.port} is in use; ${t.who} needs it. Free it, or move it with ${t.setting}`);
  throw new StartRefusedError(`nothing was started:\n  ${lines.join('\n  ')}`, { ports: taken.map((t) => t.port) });
}

/**
 * The GitHub onboarding talks to: the one GITHUB_API_URL names, or the local simulator, started
 * here on loopback with a fresh token and webhook secret, its webhooks going to the build API.
 */
async function githubForOnboarding(): Promise<{ orchestrator: Record<string, string>; build: Record<string, string> }> {
  if (scriptEnv.GITHUB_API_URL) {
    say(`onboarding uses the GitHub at ${scriptEnv.GITHUB_API_URL}`);
    return {
      orchestrator: { GITHUB_API_URL: scriptEnv.GITHUB_API_URL, ...(scriptEnv.GITHUB_TOKEN ? { GITHUB_TOKEN: scriptEnv.GITHUB_TOKEN } : {}) },
      build: scriptEnv.GITHUB_WEBHOOK_SECRET ? { GITHUB_WEBHOOK_SECRET: scriptEnv.GITHUB_WEBHOOK_SECRET } : {},
    };
  }
  const token = randomBytes(24).toString('hex');
  const secret = randomBytes(24).toString('hex');
  const build = servicePorts(args['port-base']).find((s) => s.name === 'build');
  owned.github = await startGitHubSim({ port: args['github-port'], token, webhook: { url: `http://127.0.0.1:${build?.port ?? 0}/webhooks/github`, secret } });
  say(`local GitHub simulator for onboarding at ${owned.github.url} (its request log: ${owned.github.url}/_sim/requests)`);
  return { orchestrator: { GITHUB_API_URL: owned.github.url, GITHUB_TOKEN: token, GITHUB_PACE_WRITES: 'false' }, build: { GITHUB_WEBHOOK_SECRET: secret } };
}

/** One short line per structured log record, so the terminal stays readable. */
function show(service: ServiceName, line: string): void {
  try {
    const { level, msg, ...rest } = JSON.parse(line) as { level: number; msg: string; [k: string]: unknown };
    const { time: _t, pid: _p, hostname: _h, name: _n, service: _s, ...fields } = rest;
    const tag = level >= 50 ? 'ERROR' : level >= 40 ? 'WARN ' : 'info ';
    process.stdout.write(`${service.padEnd(12)} ${tag} ${msg} ${Object.keys(fields).length ? JSON.stringify(fields) : ''}\n`);
  } catch {
    process.stdout.write(`${service.padEnd(12)} ${line}\n`);
  }
}

async function start(): Promise<void> {
  const answering = await unlessInterrupted(emulatorAnswers());
  if (answering && args.fresh) {
    throw new StartRefusedError(
      `an emulator this command did not start already answers at ${env.AWS_ENDPOINT_URL}: --fresh refuses to wipe its state. ` +
        'Stop it first (scripts/emulator.sh stop, if it was started from this checkout), or run without --fresh.',
      { endpoint: env.AWS_ENDPOINT_URL },
    );
  }
  await unlessInterrupted(checkPorts(!answering));

  if (answering) {
    say(`using the emulator already answering at ${env.AWS_ENDPOINT_URL} (this command will not stop it)`);
  } else {
    owned.emulator = true;
    owned.emulatorScript = emulatorScript(['start', ...(args.fresh ? ['--fresh'] : [])]);
    const code = await unlessInterrupted(exited(owned.emulatorScript));
    if (code !== 0) throw new Error(`scripts/emulator.sh start exited with ${code}`);
  }

  const tokenFile = isAbsolute(scriptEnv.FLOTILLA_API_TOKEN_FILE) ? scriptEnv.FLOTILLA_API_TOKEN_FILE : join(ROOT, scriptEnv.FLOTILLA_API_TOKEN_FILE);
  const apiToken = scriptEnv.FLOTILLA_API_TOKEN ?? ensureApiToken(tokenFile).token;
  const aws = createAwsClients({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL });
  say(`deploying stack '${args.prefix}' (deploy/cloudformation/flotilla.json) to the emulator`);
  try {
    // The stack's secret holds the token the build API requires, for the load-test runners it starts.
    await unlessInterrupted(deployStack({ clients: aws, prefix: args.prefix, target: 'local', parameters: { ApiToken: apiToken } }));
  } finally {
    aws.destroy();
  }
  const github = await unlessInterrupted(githubForOnboarding());
  owned.fleetStart = startFleet({
    prefix: args.prefix,
    env,
    apiToken,
    overrides: { orchestrator: github.orchestrator, build: github.build },
    ports: { base: args['port-base'] },
    onLog: show,
    onSpawn: (name, child) => say(`spawned ${name} (pid ${child.pid ?? '?'}), waiting for it to listen`),
    signal: interrupt.signal,
  });
  const fleet = await owned.fleetStart;
  owned.fleet = fleet;
  for (const s of fleet.services) {
    s.child.once('exit', (code) => !interrupt.signal.aborted && say(`${s.name} exited (${code}); Ctrl-C to stop the rest`));
  }

  await unlessInterrupted(waitHealthy(fleet));
  const build = fleet.services.find((s) => s.name === 'build');
  say('Flotilla is up:');
  say(`  console       ${build?.url ?? ''}/  (open it, and paste the API token it asks for)`);
  for (const s of fleet.services) say(`  ${s.name.padEnd(13)} ${s.url}/health`);
  say(`  local AWS     ${env.AWS_ENDPOINT_URL} (try: .tools/venv/bin/awslocal sns list-topics)`);
  if (owned.github) say(`  GitHub (sim)  ${owned.github.url}/_sim/state (onboarding: pnpm flotilla services create <name> --team <team> --template node-service)`);
  if (scriptEnv.FLOTILLA_API_TOKEN) say('  the API wants the token in FLOTILLA_API_TOKEN: send Authorization: Bearer $FLOTILLA_API_TOKEN');
  else {
    // Short when it is under the current directory (.run/api-token), whole otherwise.
    const near = relative(process.cwd(), tokenFile);
    const shown = near && !near.startsWith('..') && !isAbsolute(near) ? near : tokenFile;
    say(`  the API wants the token in ${shown} (mode 0600; delete it for a new one):`);
    say(`    curl -s -H "Authorization: Bearer $(cat ${shown})" ${build?.url ?? ''}/builds`);
    say('    pnpm flotilla builds list    (the CLI reads that file itself)');
  }
  if (env.HOST !== '127.0.0.1') say(`  the services listen on ${env.HOST}: anyone who can reach this machine can reach them (HOST)`);
  if (owned.emulator && scriptEnv.EMULATOR_PERSIST === '1') say('  the emulator keeps its state across restarts (./scripts/run.sh --fresh starts empty)');
  say('Ctrl-C stops everything this command started.');
  await unlessInterrupted(new Promise<never>(() => undefined));
}

/** Stops what this command started: services first (they use the emulator), then the emulator. */
async function stopOwned(): Promise<void> {
  if (owned.fleet) {
    say('stopping services');
    await owned.fleet.stop(10_000);
  } else if (owned.fleetStart) {
    // An aborted or failed start stops every service it spawned before it settles.
    say('stopping the services that had started');
    await owned.fleetStart.catch(() => undefined);
  }
  await owned.github?.close();
  if (owned.emulator) {
    const script = owned.emulatorScript;
    // Still starting: it stops the emulator it spawned on SIGTERM, once its pid is recorded.
    if (script && script.exitCode === null && script.signalCode === null) {
      script.kill('SIGTERM');
      await exited(script);
    }
    await exited(emulatorScript(['stop']));
  }
}

let exitCode = 0;
try {
  await start();
} catch (error) {
  if (error instanceof InterruptedError) exitCode = error.exitCode;
  else {
    exitCode = 1;
    warn(error instanceof Error ? error.message : String(error));
  }
}
await stopOwned();
say(exitCode === 1 ? 'the run failed; everything this command started has stopped' : 'everything this command started has stopped');
process.exit(exitCode);
