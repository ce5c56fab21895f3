/** Which stage a build waits in, read from its view: what GET /builds/:id/why reports. */
import { describe, expect, it } from 'vitest';
import { stageOf } from '../src/domain/stage.ts';
import type { BuildView } from '../src/domain/view.ts';

const artifact = { bucket: 'b', key: 'k', sha256: 'a'.repeat(64), sizeBytes: 1, prebuilt: false };
const view = (overrides: Partial<Pick<BuildView, 'status' | 'artifact' | 'regions'>> = {}) => ({
  status: 'IN_PROGRESS' as const,
  artifact,
  regions: {
    'us-east-1': { replicated: true, synced: false },
    'eu-west-1': { replicated: true, synced: true },
  },
  ...overrides,
});

describe('stage of a build', () => {
  it('follows the pipeline: intake, build, replication, sync, finish', () => {
    expect(stageOf(view({ status: 'PENDING', artifact: undefined })).stage).toBe('intake');
    expect(stageOf(view({ artifact: undefined }))).toMatchObject({ stage: 'build', queues: ['build'] });
    expect(stageOf(view({ regions: { a: { replicated: true, synced: false }, b: { replicated: false, synced: false } } }))).toMatchObject({ stage: 'replication', queues: ['replication'] });
    expect(stageOf(view())).toMatchObject({ stage: 'sync', queues: ['sync-us-east-1'], waitingOn: 'region sync of us-east-1' });
    expect(stageOf(view({ regions: { a: { replicated: true, synced: true } } }))).toMatchObject({ stage: 'finish', queues: ['orchestrator'] });
  });

  it('goes to finish when a region failed to replicate: sync never starts', () => {
    expect(stageOf(view({ regions: { a: { replicated: true, synced: false }, b: { replicated: false, replicationFailure: 'x', synced: false } } })).stage).toBe('finish');
  });
});
