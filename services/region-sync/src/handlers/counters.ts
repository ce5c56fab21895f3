/**
 * The single reader of the host table's stream: a batch's increments, one ADD per build and region
 * however many of its records that pair has, committed with the checkpoint. Pure apart from the
 * writes it returns, so the reader may ask again about part of a batch (more than 99 pairs).
 */
import { countChanges, countersKey, plainImage, type Records, type StreamBatch, type TransactWriteItem } from '@flotilla/platform';

export function countersHandler(projections: Records) {
  return (batch: StreamBatch): Promise<TransactWriteItem[]> => {
    const increments = countChanges(
      batch.records.map((r) => ({ eventName: r.eventName, oldImage: plainImage(r.dynamodb?.OldImage), newImage: plainImage(r.dynamodb?.NewImage) })),
    );
    return Promise.resolve([...increments.values()].flatMap(({ buildId, region, add }) => projections.updateInTransaction(countersKey(buildId, region), { set: { buildId, region }, add }) ?? []));
  };
}
