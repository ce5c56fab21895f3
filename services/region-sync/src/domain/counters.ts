/**
 * Per build and region host counters from the host table's stream: a new host record counts one
 * host and one of its status; a status change moves one count from the old status to the new.
 * Pure: the reader commits these increments with its checkpoint, so a replayed batch never counts
 * twice.
 */
export interface HostImage {
  buildId?: unknown;
  region?: unknown;
  status?: unknown;
}

export interface HostChange {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE' | undefined;
  oldImage?: HostImage | undefined;
  newImage?: HostImage | undefined;
}

export type Increments = Map<string, { buildId: string; region: string; add: Record<string, number> }>;

export function countChanges(changes: readonly HostChange[]): Increments {
  const totals: Increments = new Map();
  const bump = (image: HostImage, field: string, by: number) => {
    if (typeof image.buildId !== 'string' || typeof image.region !== 'string') return;
    const key = `${image.buildId}#${image.region}`;
    const entry = totals.get(key) ?? { buildId: image.buildId, region: image.region, add: {} };
    entry.add[field] = (entry.add[field] ?? 0) + by;
    totals.set(key, entry);
  };
  for (const { eventName, oldImage, newImage } of changes) {
    if (eventName === 'INSERT' && newImage) {
      bump(newImage, 'hosts', 1);
      if (typeof newImage.status === 'string') bump(newImage, newImage.status, 1);
    } else if (eventName === 'MODIFY' && oldImage && newImage && oldImage.status !== newImage.status) {
      if (typeof oldImage.status === 'string') bump(oldImage, oldImage.status, -1);
      if (typeof newImage.status === 'string') bump(newImage, newImage.status, 1);
    }
  }
  return totals;
}
