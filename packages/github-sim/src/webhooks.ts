/**
 * Signed webhook deliveries, as GitHub sends them: a POST of the JSON payload with
 * X-GitHub-Event, X-GitHub-Delivery (a UUID; a duplicate keeps it, as GitHub's redelivery does)
 * and X-Hub-Signature-256 (HMAC-SHA256 of the exact body bytes), `webhookMs` after the happening.
 * A failed delivery is not retried (GitHub does not either) but is recorded.
 *
 * Modes and faults make the receiver's life hard on purpose: every delivery twice (`duplicate`),
 * deliveries held for a window and released in random order (`shuffle`), and one delivery
 * dropped, doubled or held longer (a `webhook` fault).
 */
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import type { FastifyBaseLogger } from 'fastify';
import type { FaultBook } from './faults.ts';
import type { Scheduler } from './scheduler.ts';

export interface WebhookTarget {
  url: string;
  secret: string;
}

export interface WebhookMode {
  /** Every delivery is sent twice, with the same delivery id. */
  duplicate?: boolean;
  /** Deliveries are held for a window and released in random order. */
  shuffle?: boolean;
}

export interface LoggedDelivery {
  /** Epoch ms of the attempt (of the decision, for a dropped one). */
  at: number;
  deliveryId: string;
  event: string;
  action: string;
  repo: string;
  /** The receiver's HTTP status; absent when the attempt failed (see `error`) or was dropped. */
  status?: number;
  error?: string;
  /** A `webhook` fault dropped it: it was never sent. */
  dropped?: boolean;
  /** This attempt is a second copy of that delivery (duplicate mode or fault). */
  duplicateOf?: string;
}

/** How long shuffle mode holds deliveries before releasing them, in random order. */
export const SHUFFLE_WINDOW_MS = 400;
const DELIVERY_TIMEOUT_MS = 10_000;

interface Delivery {
  id: string;
  /** The target when it happened, as GitHub sends to the hooks that existed then. */
  target: WebhookTarget;
  event: string;
  action: string;
  repo: string;
  body: string;
  copies: number;
}

export class Webhooks {
  readonly #scheduler: Scheduler;
  readonly #faults: FaultBook;
  readonly #log: FastifyBaseLogger;
  readonly #delayMs: number;
  readonly #random: () => number;
  readonly #deliveries: LoggedDelivery[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #target: WebhookTarget | undefined;
  #mode: Required<WebhookMode> = { duplicate: false, shuffle: false };
  #held: Delivery[] = [];
  #releaseScheduled = false;

  constructor(options: { scheduler: Scheduler; faults: FaultBook; log: FastifyBaseLogger; delayMs: number; target?: WebhookTarget | undefined; random?: () => number }) {
    this.#scheduler = options.scheduler;
    this.#faults = options.faults;
    this.#log = options.log;
    this.#delayMs = options.delayMs;
    this.#target = options.target;
    this.#random = options.random ?? Math.random;
  }

  setTarget(target: WebhookTarget): void {
    this.#target = { ...target };
  }

  setMode(mode: WebhookMode): void {
    this.#mode = { duplicate: mode.duplicate ?? false, shuffle: mode.shuffle ?? false };
  }

  deliveries(): LoggedDelivery[] {
    return this.#deliveries.map((d) => ({ ...d }));
  }

  /** Sends `payload` as event `event` (its `action` read from the payload), `webhookMs` from now. */
  deliver(event: string, repo: string, payload: { action: string } & Record<string, unknown>): void {
    const target = this.#target;
    if (!target) {
      // No hook: nothing to send, and no attempt to record (a test driving by polling alone sees no deliveries).
      this.#log.debug({ event, action: payload.action, repo }, 'no webhook target: not delivered');
      return;
    }
    const delivery: Delivery = { id: randomUUID(), target, event, action: payload.action, repo, body: JSON.stringify(payload), copies: this.#mode.duplicate ? 2 : 1 };
    const fault = this.#faults.take(
      'webhook',
      (f) => (f.event === undefined || f.event === event) && (f.eventAction === undefined || f.eventAction === payload.action) && (f.repo === undefined || f.repo === repo),
    );
    let delayMs = this.#delayMs;
    switch (fault?.action) {
      case 'drop':
        this.#deliveries.push({ at: Date.now(), deliveryId: delivery.id, event, action: delivery.action, repo, dropped: true });
        return;
      case 'duplicate':
        delivery.copies += 1;
        break;
      case 'delay':
        delayMs += fault.delayMs;
        break;
      case undefined:
        break;
    }
    this.#scheduler.after(delayMs, () => this.#release(delivery));
  }

  /** Stops every delivery: held ones are forgotten, in-flight ones aborted and awaited. */
  async close(): Promise<void> {
    this.#held = [];
    this.#abort.abort(new Error('simulator closed'));
    await Promise.allSettled([...this.#inFlight]);
  }

  #release(delivery: Delivery): void {
    if (!this.#mode.shuffle) {
      this.#track(this.#send(delivery));
      return;
    }
    this.#held.push(delivery);
    if (this.#releaseScheduled) return;
    this.#releaseScheduled = true;
    this.#scheduler.after(SHUFFLE_WINDOW_MS, () => {
      this.#releaseScheduled = false;
      const batch = this.#held;
      this.#held = [];
      // Fisher-Yates, then one after another, so the receiver sees exactly this order.
      for (let i = batch.length - 1; i > 0; i--) {
        const j = Math.floor(this.#random() * (i + 1));
        [batch[i], batch[j]] = [batch[j]!, batch[i]!];
      }
      this.#track(
        (async () => {
          for (const d of batch) await this.#send(d);
        })(),
      );
    });
  }

  #track(sending: Promise<void>): void {
    this.#inFlight.add(sending);
    void sending.finally(() => this.#inFlight.delete(sending));
  }

  async #send(delivery: Delivery): Promise<void> {
    for (let copy = 0; copy < delivery.copies; copy++) {
      if (this.#abort.signal.aborted) return;
      await this.#post(delivery, copy > 0);
    }
  }

  async #post(delivery: Delivery, duplicate: boolean): Promise<void> {
    const record: LoggedDelivery = {
      at: Date.now(),
      deliveryId: delivery.id,
      event: delivery.event,
      action: delivery.action,
      repo: delivery.repo,
      ...(duplicate ? { duplicateOf: delivery.id } : {}),
    };
    const target = delivery.target;
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'GitHub-Hookshot/sim',
          'x-github-event': delivery.event,
          'x-github-delivery': delivery.id,
          'x-hub-signature-256': await sign(target.secret, delivery.body),
        },
        body: delivery.body,
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)]),
      });
      await response.body?.cancel();
      this.#deliveries.push({ ...record, status: response.status });
      this.#log.debug({ deliveryId: delivery.id, event: delivery.event, action: delivery.action, status: response.status }, 'webhook delivered');
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      const message = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error);
      this.#deliveries.push({ ...record, error: message });
      this.#log.warn({ deliveryId: delivery.id, event: delivery.event, action: delivery.action, url: target.url, error: message }, 'webhook delivery failed');
    }
  }
}
