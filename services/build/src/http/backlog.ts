/**
 * Intake back-pressure (issue 9): past a configured backlog of open builds, POST /builds answers
 * 503 with Retry-After instead of appending more work than the pipeline drains.
 *
 * The backlog is the builds the build list holds as PENDING or IN_PROGRESS: requested and not
 * ended, whichever stage holds them (the relay, Step Functions, a worker's queue). It is counted
 * with a Query of the list's status index, capped at the limit (countBuildsWithStatus), by one
 * refresh at a time at most every `refreshMs`, never per request: its cost does not grow with the
 * request rate nor with the backlog past the limit. It is what GET /builds?status=... shows, so
 * what the API refuses on, a caller can see. It trails the log by the projection's lag (the relay,
 * SNS and the projector: the requested -> started stage of `pnpm throughput`), so the limit can be
 * overshot by about (intake rate x that lag); the limit bounds the backlog, it is not exact.
 *
 * A failed count is logged and the last known value kept (the first failure admits): a request the
 * count cannot judge is not refused for it, and the append that follows fails on its own if AWS
 * is down.
 */
import type { Logger } from '@flotilla/platform';

export interface BacklogLimits {
  /** Open builds at which intake refuses (0: never). */
  maxBacklog: number;
  /** The count is refreshed at most this often. */
  refreshMs: number;
  /** What Retry-After says on a refusal. */
  retryAfterSeconds: number;
}

export type Admission = { admitted: true } | { admitted: false; backlog: number; retryAfterSeconds: number };

export class IntakeBacklog {
  readonly #count: (cap: number) => Promise<number>;
  readonly #limits: BacklogLimits;
  readonly #logger: Logger;
  readonly #now: () => number;
  #backlog = 0;
  #measuredAt: number | undefined;
  #refreshing: Promise<void> | undefined;

  /** `count(cap)`: open builds, counted no further than `cap`. */
  constructor(count: (cap: number) => Promise<number>, limits: BacklogLimits, logger: Logger, now: () => number = Date.now) {
    this.#count = count;
    this.#limits = limits;
    this.#logger = logger;
    this.#now = now;
  }

  /** Whether a new build may be taken now. Waits for a count only before the first one. */
  async admit(): Promise<Admission> {
    const { maxBacklog, refreshMs, retryAfterSeconds } = this.#limits;
    if (maxBacklog <= 0) return { admitted: true };
    if (this.#measuredAt === undefined) await this.#refresh();
    else if (this.#now() - this.#measuredAt >= refreshMs) void this.#refresh();
    return this.#backlog >= maxBacklog ? { admitted: false, backlog: this.#backlog, retryAfterSeconds } : { admitted: true };
  }

  /** Resolves when no count is running (the one running now, if any, has settled). */
  async settled(): Promise<void> {
    await this.#refreshing;
  }

  /** One count at a time; callers that arrive meanwhile share it. */
  #refresh(): Promise<void> {
    this.#refreshing ??= this.#count(this.#limits.maxBacklog)
      .then((backlog) => {
        if (backlog >= this.#limits.maxBacklog && this.#backlog < this.#limits.maxBacklog) this.#logger.warn({ backlog, maxBacklog: this.#limits.maxBacklog }, 'intake backlog full: refusing new builds with 503');
        else if (backlog < this.#limits.maxBacklog && this.#backlog >= this.#limits.maxBacklog) this.#logger.info({ backlog }, 'intake backlog below the limit again: taking builds');
        this.#backlog = backlog;
      })
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'could not count the intake backlog; keeping the last count'))
      .finally(() => {
        this.#measuredAt = this.#now();
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }
}
