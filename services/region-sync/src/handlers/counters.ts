/** The single reader of the host table's stream: batch increments committed with the checkpoint. */
import { countChanges, countersKey, plainImage, type Records, type StreamBatch, type TransactWriteItem } from '@flotilla/platform';

export function countersHandler(projections: Records) {
  return (batch: StreamBatch): Promise<TransactWriteItem[]> => {
    const increments = countChanges(
      batch.records.map((r) => ({ eventName: r.eventName, oldImage: plainImage(r.dynamodb?.OldImage), newImage: plainImage(r.dynamodb?.NewImage) })),
    );
    return Promise.resolve([...increments.values()].flatMap(({ buildId, region, add }) => projections.updateInTransaction(countersKey(buildId, region), { set: { buildId, region }, add }) ?? []));
  };
}
