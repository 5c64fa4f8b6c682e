import { webhookSignature } from '../../domain/signing.js';
import type { Db } from '../../persistence/db.js';
import type { Logger } from '../agent/agent.js';

const MAX_ATTEMPTS = 10;
const TIMEOUT_MS = 5_000;

interface Delivery {
  id: number;
  session_id: string;
  url: string;
  body: string;
  attempts: number;
  webhook_secret: string;
}

/**
 * Delivers callback_url events: in order per session (a session's next event waits until the
 * one before it was delivered or given up), retried with exponential backoff, and signed with
 * the keypair's webhook secret (`X-Bai-Signature: sha256=<hex of HMAC(body)>`).
 */
export class WebhookSender {
  private busy = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async pass(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const due = (await this.db.raw(
        `SELECT DISTINCT ON (w.session_id) w.id, w.session_id, w.url, w.body, w.attempts, k.webhook_secret, w.next_attempt_at
           FROM webhook_deliveries w JOIN keypairs k ON k.access_key = w.access_key
          WHERE w.delivered_at IS NULL AND w.gave_up_at IS NULL
          ORDER BY w.session_id, w.id`,
      )) as { rows: (Delivery & { next_attempt_at: Date })[] };
      const now = Date.now();
      await Promise.all(
        due.rows.filter((d) => d.next_attempt_at.getTime() <= now).map((d) => this.deliver(d)),
      );
    } finally {
      this.busy = false;
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    let error: string | null = null;
    try {
      const res = await this.fetchImpl(d.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'bai-webhook/1',
          'X-Bai-Signature': webhookSignature(d.webhook_secret, d.body),
          'X-Bai-Delivery': String(d.id),
        },
        body: d.body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
      await res.body?.cancel().catch(() => {});
    } catch (err) {
      error = (err as Error).message;
    }
    if (error === null) {
      await this.db('webhook_deliveries')
        .where({ id: d.id })
        .update({ delivered_at: this.db.fn.now(), attempts: d.attempts + 1 });
      return;
    }
    const attempts = d.attempts + 1;
    const backoffMs = Math.min(500 * 2 ** (attempts - 1), 60_000);
    await this.db('webhook_deliveries')
      .where({ id: d.id })
      .update({
        attempts,
        last_error: error.slice(0, 500),
        next_attempt_at: new Date(Date.now() + backoffMs),
        ...(attempts >= MAX_ATTEMPTS ? { gave_up_at: this.db.fn.now() } : {}),
      });
    if (attempts >= MAX_ATTEMPTS)
      this.log.error('callback given up', { url: d.url, sessionId: d.session_id, error });
  }
}
