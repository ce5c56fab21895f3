/**
 * The compose files, rendered from the fleet in deploy/services.json and the emulator pin in
 * scripts/emulator-requirements.txt (deploy/render.ts writes them; its --check fails when a
 * committed one is stale):
 *
 * - docker-compose.yml, for users with a registry: the emulator's published image and the
 *   services built from the Dockerfile's defaults, on compose's bridge network, reaching each other
 *   by service name, with each port published on 127.0.0.1.
 * - docker-compose.host.yml, for a machine that reaches no image registry: the images
 *   scripts/images.sh builds locally (flotilla-local/*), in host networking on loopback, each port
 *   overridable from the environment (FLOTILLA_AWS_PORT, FLOTILLA_BUILD_PORT, ...) so a second
 *   fleet can run beside the native one. Run with Debian's docker-compose (v1) or Compose v2.
 *
 * Both keep to the Compose Specification's common subset (no `!reset`, no v2-only keys), so
 * docker-compose 1.29 and Compose v2 read them alike.
 */
import { fileURLToPath } from 'node:url';
import { Document, visit } from 'yaml';
import { LOCAL_IMAGES, ministackImage, pinnedEmulatorVersion } from '../packages/platform/src/testing/local-images.ts';
import { SERVICES, serviceNodeArgs } from './services.ts';

export const COMPOSE_PATHS = {
  bridge: fileURLToPath(new URL('../docker-compose.yml', import.meta.url)),
  host: fileURLToPath(new URL('../docker-compose.host.yml', import.meta.url)),
} as const;
export type ComposeMode = keyof typeof COMPOSE_PATHS;

const EMULATOR_PORT = 4566;
const PREFIX = 'flotilla';
/**
 * The build API's token comes from the environment of `docker compose up`, never from the file:
 * compose refuses to start without it, with this message.
 */
const API_TOKEN = '${FLOTILLA_API_TOKEN:?set FLOTILLA_API_TOKEN to the build API token, for example the one ./scripts/run.sh keeps in .run/api-token}';

/** The environment variable that moves a port of docker-compose.host.yml: FLOTILLA_AWS_PORT, FLOTILLA_REGION_SYNC_PORT, ... */
export const portVariable = (name: string): string => `FLOTILLA_${name.toUpperCase().replaceAll('-', '_')}_PORT`;

interface Layout {
  header: string;
  /** The emulator's service definition. */
  aws: Record<string, unknown>;
  /** Where the containers find the emulator. */
  endpoint: string;
  /** How a container of the app is made: built from the Dockerfile, or the local image. */
  app: Record<string, unknown>;
  /** The network every app container joins. */
  network: Record<string, unknown>;
  /** The address a service listens on inside its container (HOST). */
  host: string;
  /** The port a service listens on, as the file writes it, and how it is reached from the host. */
  listen: (name: string, port: number) => { port: string; settings: Record<string, unknown> };
}

const layouts: Record<ComposeMode, () => Layout> = {
  bridge: () => ({
    header: [
      'The whole fleet plus a local AWS, for machines with a Docker engine and an image registry:',
      '`docker compose up` (or `docker-compose up`). The emulator is MiniStack at the version pinned in',
      'scripts/emulator-requirements.txt; a one-shot init container deploys',
      'deploy/cloudformation/flotilla.json into it before any service starts. Without a registry, use',
      'docker-compose.host.yml (README); without Docker, ./scripts/run.sh runs the same services natively.',
    ].join('\n'),
    aws: {
      image: `ministackorg/ministack:${pinnedEmulatorVersion()}`,
      ports: [`127.0.0.1:${EMULATOR_PORT}:${EMULATOR_PORT}`],
      healthcheck: {
        test: ['CMD-SHELL', `python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${EMULATOR_PORT}/_ministack/health')"`],
        interval: '2s',
        timeout: '3s',
        retries: 30,
      },
    },
    endpoint: `http://aws:${EMULATOR_PORT}`,
    app: { build: '.' },
    network: {},
    // Compose publishes the container's interface: loopback inside it would be unreachable.
    host: '0.0.0.0',
    listen: (_name, port) => ({ port: String(port), settings: { ports: [`127.0.0.1:${port}:${port}`] } }),
  }),
  host: () => {
    const awsPort = `\${${portVariable('aws')}:-${EMULATOR_PORT}}`;
    return {
      header: [
        'The whole fleet plus a local AWS from images built on this machine (scripts/images.sh), in host',
        'networking on loopback: `scripts/images.sh && docker-compose -f docker-compose.host.yml up`.',
        'Every port can be moved: FLOTILLA_AWS_PORT (4566) and FLOTILLA_<SERVICE>_PORT (deploy/services.json).',
      ].join('\n'),
      // The image's own HEALTHCHECK reads GATEWAY_PORT, so it follows the port.
      aws: { image: ministackImage(), network_mode: 'host', environment: { GATEWAY_PORT: awsPort, BIND_HOST: '127.0.0.1' } },
      endpoint: `http://127.0.0.1:${awsPort}`,
      app: { image: LOCAL_IMAGES.app },
      network: { network_mode: 'host' },
      // Host networking shares the host's interfaces: stay on its loopback.
      host: '127.0.0.1',
      listen: (name, port) => ({ port: `\${${portVariable(name)}:-${port}}`, settings: {} }),
    };
  },
};

export function renderCompose(mode: ComposeMode): string {
  const layout = layouts[mode]();
  const awsEnv = {
    AWS_ENDPOINT_URL: layout.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    FLOTILLA_PREFIX: PREFIX,
    LOG_LEVEL: 'info',
  };
  const services: Record<string, unknown> = {
    // An init process as PID 1 passes SIGTERM on and reaps children, so `down` stops each gracefully.
    aws: { ...layout.aws, init: true },
    deploy: {
      ...layout.app,
      command: ['node', 'scripts/deploy.ts', '--target', 'local', '--prefix', PREFIX],
      // Into the stack's secret, for the load-test runners.
      environment: { ...awsEnv, FLOTILLA_API_TOKEN: API_TOKEN },
      ...layout.network,
      depends_on: { aws: { condition: 'service_healthy' } },
    },
  };
  for (const { name, port } of SERVICES) {
    const listen = layout.listen(name, port);
    services[name] = {
      ...layout.app,
      command: ['node', ...serviceNodeArgs(name)],
      // /health reports it, so a caller can tell which container answered.
      hostname: `flotilla-${name}`,
      init: true,
      environment: {
        ...awsEnv,
        PORT: listen.port,
        // Bridge networking publishes a container's interface, not its loopback; host networking
        // keeps the service on the host's loopback.
        HOST: layout.host,
        ...(name === 'build' ? { FLOTILLA_API_TOKEN: API_TOKEN } : {}),
      },
      ...layout.network,
      ...listen.settings,
      stop_grace_period: '30s',
      depends_on: { deploy: { condition: 'service_completed_successfully' } },
    };
  }
  const header = `${layout.header}\n\nGenerated by deploy/render.ts from deploy/compose.ts: edit those, then run \`pnpm render\`.`;
  const doc = new Document({ services }, { aliasDuplicateObjects: false });
  // Lists (commands, ports) read best on one line, as compose files usually write them.
  visit(doc, {
    Seq(_key, node) {
      node.flow = true;
    },
  });
  const comment = header.split('\n').map((line) => (line ? `# ${line}` : '#')).join('\n');
  return `${comment}\n${doc.toString({ lineWidth: 0 })}`;
}
