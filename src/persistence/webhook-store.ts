import { preparedRaw } from './prepared.js';
import type { Db } from './db.js';

/** A callback_url event waiting to be delivered, with the secret it is signed with. */
export interface DueDelivery {
  id: number;
  session_id: string;
  url: string;
  body: string;
  attempts: number;
  webhook_secret: string;
  next_attempt_at: Date;
}

/** How one delivery attempt ended, as it is recorded. */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  /** Refused or redirected: never retried. */
  | { kind: 'given-up'; outcome: string; error: string }
  /** Failed: retried at `retryAt`, unless `giveUp`. */
  | { kind: 'failed'; error: string; retryAt: Date; giveUp: boolean };

/** The webhook_deliveries table: what the webhook sender delivers, and how each attempt went. */
export class WebhookStore {
  constructor(private readonly db: Db) {}

  /**
   * The first undelivered event of each session, when it is due (a session's next event waits
   * until the one before it was delivered or given up, so a head not due yet holds back its
   * session: it is picked first, then left out).
   */
  async due(): Promise<DueDelivery[]> {
    const { rows } = (await preparedRaw(
      this.db,
      'bai_webhooks_due',
      `SELECT * FROM (
         SELECT DISTINCT ON (w.session_id) w.id, w.session_id, w.url, w.body, w.attempts, k.webhook_secret, w.next_attempt_at
           FROM webhook_deliveries w JOIN keypairs k ON k.access_key = w.access_key
          WHERE w.delivered_at IS NULL AND w.gave_up_at IS NULL
          ORDER BY w.session_id, w.id
       ) head
       WHERE head.next_attempt_at <= now()`,
    )) as { rows: DueDelivery[] };
    return rows;
  }

  /** Records attempt number `attempts` of delivery `id`. */
  async record(id: number, attempts: number, o: DeliveryOutcome): Promise<void> {
    const now = this.db.fn.now();
    const set =
      o.kind === 'delivered'
        ? { delivered_at: now, attempts, outcome: 'delivered' }
        : o.kind === 'given-up'
          ? { attempts, last_error: o.error.slice(0, 500), outcome: o.outcome, gave_up_at: now }
          : {
              attempts,
              last_error: o.error.slice(0, 500),
              next_attempt_at: o.retryAt,
              ...(o.giveUp ? { gave_up_at: now, outcome: 'failed' } : {}),
            };
    await this.db('webhook_deliveries').where({ id }).update(set);
  }
}
