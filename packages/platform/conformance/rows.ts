/**
 * One row of the conformance check: an observable outcome the emulator must show. A row that is a
 * known gap asserts the gap itself (so the row fails, loudly, if the emulator changes) and that
 * the workaround works.
 */
export interface Row {
  area: string;
  capability: string;
  result: 'ok' | 'gap';
  /** What was observed, in words, with numbers where there are any. */
  observed: string;
  workaround?: string;
  passed: boolean;
}

export class CheckFailed extends Error {
  override name = 'CheckFailed';
}

export function expectThat(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

/** Runs `probe` and turns its outcome into a row; a throw is a failed row naming the reason. */
export async function row(area: string, capability: string, probe: () => Promise<string>): Promise<Row> {
  try {
    return { area, capability, result: 'ok', observed: await probe(), passed: true };
  } catch (error) {
    return { area, capability, result: 'ok', observed: `FAILED: ${describe(error)}`, passed: false };
  }
}

/** A known gap: `probe` must observe the gap and prove the workaround, else the row fails. */
export async function gap(area: string, capability: string, workaround: string, probe: () => Promise<string>): Promise<Row> {
  try {
    return { area, capability, result: 'gap', observed: await probe(), workaround, passed: true };
  } catch (error) {
    return { area, capability, result: 'gap', observed: `FAILED: ${describe(error)}`, workaround, passed: false };
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Resolves with the error's name, or with 'no error' when the call succeeded. */
export async function errorName(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'no error';
  } catch (error) {
    return (error as Error).name;
  }
}

/** Gives each resource of a run its physical name. */
export type NameFor = (label: string) => string;

/**
 * Names every resource of one run under one prefix (from uniquePrefix), so concurrent runs and
 * other tests sharing the emulator never collide, and a run's leftovers are recognisable by it.
 * A label used twice would make two checks share (and race on) one resource, so it throws.
 */
export function namesUnder(prefix: string): NameFor {
  const used = new Set<string>();
  return (label) => {
    if (used.has(label)) throw new Error(`conformance resource label used twice: ${label}`);
    used.add(label);
    return `${prefix}-${label}`;
  };
}

export async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new CheckFailed(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
