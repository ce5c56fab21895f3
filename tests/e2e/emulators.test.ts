/**
 * Both ways the test setup supplies the emulator, side by side on private ports, whichever one
 * the rest of the run uses: the native emulator (scripts/emulator.sh) and the project's
 * Testcontainers module (MiniStackContainer on the local image). Each serves the pinned version
 * and deploys the project's stack, whose event log then keeps what is appended. The container
 * really is a container on the engine (found by its label, gone after stop()), and its ECS runs a
 * task as a sibling container through the mounted engine socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateClusterCommand, DeleteClusterCommand, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { createEventId } from '@flotilla/events';
import { EmulatorImageMissingError, EventStore, resourceNames } from '@flotilla/platform';
import {
  deployTestStack,
  docker,
  dockerHost,
  ensureLocalImages,
  LOCAL_IMAGES,
  MINISTACK_CONTAINER_LABEL,
  MiniStackContainer,
  pinnedEmulatorVersion,
  testAwsClients,
  uniquePrefix,
  type StartedMiniStackContainer,
} from '@flotilla/platform/testing';
import { useDockerEngine } from '../support/container-emulator.ts';
import { freePort, privateEmulator, type PrivateEmulator } from '../support/private-emulator.ts';

const LABEL = `${MINISTACK_CONTAINER_LABEL.key}=${MINISTACK_CONTAINER_LABEL.value}`;
/** A local image the engine has (scripts/images.sh builds the emulator's image on it), so a task needs no pull. */
const TASK_IMAGE = LOCAL_IMAGES.base;

let native: PrivateEmulator | undefined;
let container: StartedMiniStackContainer | undefined;
const startMs: Record<string, number> = {};

async function timed<T>(name: string, start: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const value = await start();
  startMs[name] = Math.round(performance.now() - started);
  return value;
}

beforeAll(async () => {
  // The container path needs an engine: dockerHost() fails, saying how to start one, without it.
  useDockerEngine(await dockerHost());
  await ensureLocalImages('ministack');
  const nativeEmulator = await privateEmulator();
  native = nativeEmulator;
  const containerPort = await freePort();
  // Started together: neither waits for the other's start.
  const [, started] = await Promise.all([
    timed('native', () => nativeEmulator.script(['start'], { EMULATOR_PERSIST: '0' })),
    timed('container', () => new MiniStackContainer().withPort(containerPort).start()),
  ]);
  container = started;
  console.log(`[emulators] start: native ${startMs.native} ms, container ${startMs.container} ms`);
});

afterAll(async () => {
  await container?.stop();
  await native?.cleanup();
});

const paths = [
  ['native', () => native?.endpoint],
  ['container', () => container?.getEndpoint()],
] as const;

describe.each(paths)('the %s emulator', (_name, endpointOf) => {
  const endpoint = (): string => {
    const value = endpointOf();
    if (value === undefined) throw new Error('the emulator did not start');
    return value;
  };

  it('serves the pinned version', async () => {
    const health = (await (await fetch(`${endpoint()}/_ministack/health`)).json()) as { version?: string };
    expect(health.version).toBe(pinnedEmulatorVersion());
  });

  it("deploys the project's stack, whose event log keeps what is appended", async () => {
    const aws = testAwsClients(endpoint());
    const stack = await deployTestStack(aws, uniquePrefix(`emulator-${_name}`));
    try {
      const store = new EventStore(aws.dynamodb, resourceNames(stack.prefix).tables.events);
      const stream = `build-${createEventId()}`;
      const id = createEventId();
      await store.append(stream, [{ id, type: 'build.started', schemaVersion: 1, occurredAt: new Date().toISOString(), correlationId: 'c', causationId: 'c', data: { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:y' } }], 0);
      expect((await store.readStream(stream)).map((e) => [e.id, e.version])).toEqual([[id, 1]]);
    } finally {
      await stack.destroy();
      aws.destroy();
    }
  });
});

describe('the container emulator', () => {
  const started = (): StartedMiniStackContainer => {
    if (container === undefined) throw new Error('the container emulator did not start');
    return container;
  };

  it('runs as a labelled container on the Docker engine', async () => {
    expect(await docker('ps', '--filter', `label=${LABEL}`, '--filter', `id=${started().getId()}`, '--format', '{{.Image}} {{.Status}}')).toMatch(
      new RegExp(`^flotilla-local/ministack:${pinnedEmulatorVersion().replace(/\./g, '\\.')} Up .*\\(healthy\\)$`),
    );
  });

  it('runs an ECS task as a container on the same engine (the socket is mounted)', async () => {
    const aws = testAwsClients(started().getEndpoint());
    const cluster = uniquePrefix('ecs');
    try {
      await aws.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
      const definition = await aws.ecs.send(
        new RegisterTaskDefinitionCommand({
          family: cluster,
          requiresCompatibilities: ['EC2'],
          networkMode: 'host',
          containerDefinitions: [{ name: 'probe', image: TASK_IMAGE, essential: true, command: ['true'], memory: 64 }],
        }),
      );
      const { tasks } = await aws.ecs.send(new RunTaskCommand({ cluster, taskDefinition: definition.taskDefinition?.taskDefinitionArn, launchType: 'EC2' }));
      const task = tasks?.[0];
      const runtimeId = task?.containers?.[0]?.runtimeId;
      expect(runtimeId, 'the task has no container on the engine').toMatch(/^[0-9a-f]{12}$/);
      expect(await docker('inspect', '--format', '{{.Config.Image}} {{index .Config.Labels "com.amazonaws.ecs.task-arn"}}', runtimeId ?? '')).toBe(
        `${TASK_IMAGE} ${task?.taskArn}`,
      );
      // StopTask removes the task's container (an exited one too).
      await aws.ecs.send(new StopTaskCommand({ cluster, task: task?.taskArn }));
      expect(await docker('ps', '-a', '--filter', `id=${runtimeId}`, '--format', '{{.ID}}')).toBe('');
    } finally {
      await aws.ecs.send(new DeleteClusterCommand({ cluster })).catch(() => undefined);
      aws.destroy();
    }
  });

  it('is gone from the engine after stop()', async () => {
    const id = started().getId();
    await started().stop();
    container = undefined;
    expect(await docker('ps', '-a', '--filter', `id=${id}`, '--format', '{{.ID}}')).toBe('');
  });

  it('names the command that builds the image when the image is missing, and never pulls it', async () => {
    const missing = 'flotilla-local/ministack:0.0.0-missing';
    const error = await new MiniStackContainer(missing).withPort(await freePort()).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmulatorImageMissingError);
    expect((error as Error).message).toContain('scripts/images.sh ministack');
    expect(await docker('image', 'ls', '--quiet', missing)).toBe('');
  });
});
