/**
 * `scripts/run.sh` ends here, once tools are installed: make sure the emulator answers (starting
 * it when nothing does), deploy the stack, start every service, print where to look, and on
 * Ctrl-C stop everything this command started.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createAwsClients, deployStack, prefixSchema } from '@flotilla/platform';
import { scriptEnv } from './config.ts';
import { ROOT, startFleet, waitHealthy, type ServiceName } from './fleet.ts';

const { values } = parseArgs({ options: { prefix: { type: 'string', default: 'flotilla' } } });
const prefix = prefixSchema.parse(values.prefix);
const env = {
  AWS_ENDPOINT_URL: scriptEnv.AWS_ENDPOINT_URL,
  AWS_REGION: scriptEnv.AWS_REGION,
  AWS_ACCESS_KEY_ID: scriptEnv.AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: scriptEnv.AWS_SECRET_ACCESS_KEY,
  LOG_LEVEL: scriptEnv.LOG_LEVEL,
};
const say = (line: string) => process.stdout.write(`\x1b[1;34m[flotilla]\x1b[0m ${line}\n`);
const emulator = (command: 'start' | 'stop') => execFileSync('bash', [`${ROOT}/scripts/emulator.sh`, command], { stdio: 'inherit', env: { ...process.env, ...env } });

async function emulatorAnswers(): Promise<boolean> {
  try {
    await fetch(env.AWS_ENDPOINT_URL, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
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

const startedEmulator = !(await emulatorAnswers());
if (startedEmulator) emulator('start');
else say(`using the emulator already answering at ${env.AWS_ENDPOINT_URL}`);

const aws = createAwsClients({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL });
say(`deploying stack '${prefix}' (deploy/cloudformation/flotilla.json) to the emulator`);
await deployStack({ clients: aws, prefix, target: 'local' });
aws.destroy();

const fleet = await startFleet({ prefix, env, ports: 'fixed', onLog: show });
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  say('stopping services');
  await fleet.stop();
  if (startedEmulator) emulator('stop');
  say('everything this command started has stopped');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
for (const s of fleet.services) s.child.once('exit', (code) => !stopping && say(`${s.name} exited (${code}); Ctrl-C to stop the rest`));

await waitHealthy(fleet);
say('Flotilla is up:');
for (const s of fleet.services) say(`  ${s.name.padEnd(13)} ${s.url}/health`);
say(`  local AWS     ${env.AWS_ENDPOINT_URL} (try: .tools/venv/bin/awslocal sns list-topics)`);
say('Ctrl-C stops everything this command started.');
