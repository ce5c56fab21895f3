/**
 * Bounded concurrency: `work` over `items` with at most `concurrency` in flight, in item order.
 * Small enough to keep here rather than take a dependency (p-map) for one loop.
 */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, lane));
}
