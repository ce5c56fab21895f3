/**
 * Failures on demand. A test (or `POST /_sim/faults`) arms a fault; the part of the simulator it
 * concerns takes the first armed fault that matches what it is about to do, and each take uses
 * up one of the fault's `times`. Faults are parsed with zod, so a bad one is refused when it is
 * armed, not ignored when it never matches.
 */
import { z } from 'zod';

const times = z.number().int().positive().default(1).describe('How many matching occasions the fault fires on');
const method = z
  .string()
  .transform((m) => m.toUpperCase())
  .optional()
  .describe('Only requests with this HTTP method');
const path = z.string().min(1).optional().describe('Only requests whose path (without the query) contains this');

export const faultSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('workflow-fails'),
    repo: z.string().min(1),
    workflow: z.string().min(1).optional().describe("The workflow's file name, e.g. apply.yml"),
    times,
  }),
  z.object({
    kind: z.literal('merge-refused'),
    repo: z.string().min(1),
    reason: z.string().min(1).default('merge conflict'),
    times,
  }),
  z.object({
    /**
     * The repository requires no checks, so a pull request is mergeable at once and GitHub refuses
     * to turn auto-merge on for it ('Pull request Pull request is in clean status'); it can only
     * be merged directly (PUT .../pulls/{n}/merge).
     */
    kind: z.literal('clean-status'),
    repo: z.string().min(1),
    times,
  }),
  z.object({
    kind: z.literal('http-error'),
    status: z.number().int().min(400).max(599),
    message: z.string().optional(),
    method,
    path,
    times,
  }),
  z.object({
    kind: z.literal('slow'),
    /** The request is answered (normally, or by another fault) only this much later. */
    delayMs: z.number().int().nonnegative().default(2_000),
    method,
    path,
    times,
  }),
  z.object({
    kind: z.literal('rate-limit'),
    mode: z.enum(['primary', 'secondary']),
    /** primary: x-ratelimit-reset is this many seconds ahead. */
    resetSeconds: z.number().int().nonnegative().default(2),
    /** secondary: the retry-after header. */
    retryAfterSeconds: z.number().int().nonnegative().default(1),
    /** secondary: GitHub answers 403 or 429. */
    status: z.union([z.literal(403), z.literal(429)]).default(403),
    method,
    path,
    times,
  }),
  z.object({
    kind: z.literal('webhook'),
    action: z.enum(['drop', 'duplicate', 'delay']),
    event: z.enum(['pull_request', 'workflow_run']).optional(),
    eventAction: z.string().min(1).optional().describe("The payload's action, e.g. closed, completed"),
    repo: z.string().min(1).optional(),
    delayMs: z.number().int().nonnegative().default(2_000).describe('delay: how much longer the delivery is held'),
    times,
  }),
]);

/** A fault as a caller writes it (defaults optional). */
export type Fault = z.input<typeof faultSchema>;
/** A fault as armed, with its defaults filled in. */
export type ArmedFault = z.output<typeof faultSchema>;
export type FaultKind = ArmedFault['kind'];
export type FaultOf<K extends FaultKind> = Extract<ArmedFault, { kind: K }>;

/** The armed faults, with what is left of each. */
export class FaultBook {
  readonly #armed: { fault: ArmedFault; remaining: number }[] = [];

  /** Arms a fault; throws a ZodError naming the field when it is not a valid fault. */
  inject(fault: unknown): ArmedFault {
    const parsed = faultSchema.parse(fault);
    this.#armed.push({ fault: parsed, remaining: parsed.times });
    return parsed;
  }

  /** The first armed fault of `kind` that `matches`, using up one of its times. */
  take<K extends FaultKind>(kind: K, matches: (fault: FaultOf<K>) => boolean = () => true): FaultOf<K> | undefined {
    const index = this.#armed.findIndex((a) => a.fault.kind === kind && matches(a.fault as FaultOf<K>));
    const armed = this.#armed[index];
    if (!armed) return undefined;
    armed.remaining -= 1;
    if (armed.remaining === 0) this.#armed.splice(index, 1);
    return armed.fault as FaultOf<K>;
  }

  /** What is still armed, and how many more times each fires. */
  list(): (ArmedFault & { remaining: number })[] {
    return this.#armed.map((a) => ({ ...a.fault, remaining: a.remaining }));
  }

  clear(): void {
    this.#armed.length = 0;
  }
}

/** Whether a request fault (http-error, rate-limit, slow) applies to this request. */
export function matchesRequest(fault: FaultOf<'http-error' | 'rate-limit' | 'slow'>, requestMethod: string, requestPath: string): boolean {
  return (fault.method === undefined || fault.method === requestMethod.toUpperCase()) && (fault.path === undefined || requestPath.includes(fault.path));
}
