/**
 * A Testcontainers module for the local AWS emulator, shaped like Testcontainers' own modules
 * (a GenericContainer subclass whose start() resolves to a started container with typed getters):
 * the local image `flotilla-local/ministack:<pin>` (built by `scripts/images.sh ministack`, never
 * pulled), in host network mode on one loopback port, ready when the image's HEALTHCHECK passes.
 *
 *   const emulator = await new MiniStackContainer().withPort(4610).start();
 *   emulator.getEndpoint(); // http://127.0.0.1:4610
 *   await emulator.stop();  // stops and removes the container
 *
 * Host networking, so the endpoint is the same loopback address the native emulator serves and
 * the tasks its ECS runs (host-networked containers) reach it and the services alike.
 */
import {
  AbstractStartedContainer,
  GenericContainer,
  getContainerRuntimeClient,
  PullPolicy,
  Wait,
  type StartedTestContainer,
} from 'testcontainers';
import { EmulatorImageMissingError } from '../errors.ts';
import { ministackImage } from './local-images.ts';

/** The label every emulator container started here carries, so a leftover can be found (`docker ps --filter label=...`). */
export const MINISTACK_CONTAINER_LABEL = { key: 'flotilla.test', value: 'emulator' } as const;
export const DEFAULT_MINISTACK_PORT = 4566;
/** The image's HEALTHCHECK allows a 30 s start period; a cold start takes a few seconds. */
const STARTUP_TIMEOUT_MS = 60_000;
/** Where the emulator's ECS finds the engine inside the container. */
const CONTAINER_DOCKER_SOCKET = '/var/run/docker.sock';

export class MiniStackContainer extends GenericContainer {
  private port = DEFAULT_MINISTACK_PORT;

  constructor(image: string = ministackImage()) {
    super(image);
    this.withNetworkMode('host')
      .withLabels({ [MINISTACK_CONTAINER_LABEL.key]: MINISTACK_CONTAINER_LABEL.value })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      // The image is local (scripts/images.sh); no registry is ever asked for it.
      .withPullPolicy(PullPolicy.neverPull())
      // No Ryuk reaper: its image would have to be pulled. stop() removes the container instead,
      // and the label above finds anything a killed run left behind.
      .withAutoCleanup(false);
  }

  /** The loopback port the emulator serves on (host network: it is the host's port). */
  withPort(port: number): this {
    this.port = port;
    return this;
  }

  protected override async beforeContainerCreated(): Promise<void> {
    // The engine's socket as the engine's host sees it (Testcontainers derives it from DOCKER_HOST),
    // so the emulator's ECS runs tasks as sibling containers on the same engine.
    const client = await getContainerRuntimeClient();
    this.withBindMounts([{ source: client.info.containerRuntime.remoteSocketPath, target: CONTAINER_DOCKER_SOCKET, mode: 'rw' }]);
    this.withEnvironment({
      GATEWAY_PORT: String(this.port),
      BIND_HOST: '127.0.0.1',
      DOCKER_HOST: `unix://${CONTAINER_DOCKER_SOCKET}`,
    });
  }

  override async start(): Promise<StartedMiniStackContainer> {
    // Checked here so the error names the command that builds the image, not just the pull policy.
    const client = await getContainerRuntimeClient();
    if (!(await client.image.exists(this.imageName))) throw new EmulatorImageMissingError(this.imageName.string);
    return new StartedMiniStackContainer(await super.start(), this.port);
  }
}

export class StartedMiniStackContainer extends AbstractStartedContainer {
  private readonly port: number;

  constructor(started: StartedTestContainer, port: number) {
    super(started);
    this.port = port;
  }

  getPort(): number {
    return this.port;
  }

  /** The AWS endpoint URL (AWS_ENDPOINT_URL) the emulator answers on. */
  getEndpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}
