/**
 * Which stage of the pipeline a build is in, read from its view, and which queues feed that
 * stage: what `GET /builds/:id/why` (the CLI's `why`, the console's "waiting on") looks at. Pure:
 * the queue names are suffixes of the platform's resource names.
 */
import type { BuildView } from './view.ts';

export type Stage = 'intake' | 'build' | 'replication' | 'sync' | 'finish';

export interface StageInfo {
  stage: Stage;
  /** What the build waits on, in words. */
  waitingOn: string;
  /** The queue suffixes (as in resources.ts: `build`, `replication`, `sync-<region>`) of the stage. */
  queues: string[];
}

export function stageOf(view: Pick<BuildView, 'status' | 'artifact' | 'regions'>): StageInfo {
  const regions = Object.entries(view.regions);
  if (view.status === 'PENDING') {
    return { stage: 'intake', waitingOn: 'the orchestrator to read build.requested from the log and start the execution', queues: ['orchestrator'] };
  }
  if (!view.artifact) return { stage: 'build', waitingOn: 'the build worker to publish the artifact', queues: ['build'] };
  const unreplicated = regions.filter(([, r]) => !r.replicated && r.replicationFailure === undefined).map(([name]) => name);
  if (unreplicated.length > 0) {
    return { stage: 'replication', waitingOn: `replication to ${unreplicated.join(', ')}`, queues: ['replication'] };
  }
  const unsynced = regions.filter(([, r]) => r.replicated && !r.synced && r.syncFailure === undefined).map(([name]) => name);
  const anyReplicationFailed = regions.some(([, r]) => r.replicationFailure !== undefined);
  if (unsynced.length > 0 && !anyReplicationFailed) {
    return { stage: 'sync', waitingOn: `region sync of ${unsynced.join(', ')}`, queues: unsynced.map((r) => `sync-${r}`) };
  }
  return { stage: 'finish', waitingOn: 'the orchestrator to record the outcome (deploy.finished)', queues: ['orchestrator'] };
}
