import { CallbackAllowList } from '../../domain/callback-address.js';
import { webhookSignature } from '../../domain/signing.js';
import type { DueDelivery, WebhookStore } from '../../persistence/webhook-store.js';
import type { Logger } from '../../log/logger.js';
import type { ManagerMetrics } from '../../metrics/manager-metrics.js';
import { postCallback } from './callback-client.js';

const MAX_ATTEMPTS = 10;
/**
 * With no hint of new deliveries and no retry due, the outbox is read this often anyway: a
 * commit of another manager whose wake-up was lost (Redis away), retries another manager set.
 * Shorter than the webhooks lease (10 s, manager-process.ts), which each read renews.
 */
const IDLE_READ_MS = 5_000;
/** After a hint or a pass that found deliveries, every pass reads the outbox for this long. */
const HOT_MS = 1_000;
const TIMEOUT_MS = 5_000;

/**
 * Delivers callback_url events: in order per session (a session's next event waits until the
 * one before it was delivered or given up), retried with exponential backoff, and signed with
 * the keypair's webhook secret (`X-Bai-Signature: sha256=<hex of HMAC(body)>`). A destination
 * inside the network (unless allow-listed) is refused at once and a redirect is never followed:
 * neither is retried, and the delivery's outcome says which (see callback-client.ts).
 */
export class WebhookSender {
  private busy = false;
  private hotUntil = 0;
  private lastRead = 0;
  /** When the deliveries this sender failed are retried (epoch ms): the outbox is read then. */
  private retries: number[] = [];
  private readonly allow: CallbackAllowList;

  constructor(
    private readonly store: WebhookStore,
    private readonly log: Logger,
    private readonly opts: {
      allowList?: readonly string[];
      metrics?: Pick<ManagerMetrics, 'countCallback'>;
    } = {},
  ) {
    this.allow = new CallbackAllowList(opts.allowList ?? []);
    if (this.allow.invalid.length > 0)
      log.error('callback allow-list entries not understood', { entries: this.allow.invalid });
  }

  /** Deliveries were queued (or are about to commit): the next passes read the outbox. */
  hint(): void {
    this.hotUntil = Date.now() + HOT_MS;
  }

  /**
   * Whether the next pass reads the outbox: when hinted (here, or by another manager's commit),
   * while deliveries keep coming, when a retry this sender set is due, and every IDLE_READ_MS
   * otherwise: not one query per 300 ms loop turn for an empty outbox, nor a lease renewal.
   */
  wantsRead(now = Date.now()): boolean {
    if (this.busy) return false;
    return now < this.hotUntil || now - this.lastRead >= IDLE_READ_MS || this.retries.some((t) => t <= now);
  }

  /** Delivers what is due (see `wantsRead`). */
  async pass(): Promise<void> {
    const now = Date.now();
    if (!this.wantsRead(now)) return;
    this.busy = true;
    try {
      this.lastRead = now;
      // Those due are read now (and set again if they fail again).
      this.retries = this.retries.filter((t) => t > now);
      const due = await this.store.due();
      if (due.length > 0) this.hint();
      await Promise.all(due.map((d) => this.deliver(d)));
    } finally {
      this.busy = false;
    }
  }

  private async deliver(d: DueDelivery): Promise<void> {
    const r = await postCallback(
      d.url,
      {
        'Content-Type': 'application/json',
        'User-Agent': 'bai-webhook/1',
        'X-Bai-Signature': webhookSignature(d.webhook_secret, d.body),
        'X-Bai-Delivery': String(d.id),
      },
      d.body,
      this.allow,
      TIMEOUT_MS,
    );
    const attempts = d.attempts + 1;
    this.opts.metrics?.countCallback(
      r.outcome === 'delivered' || r.outcome === 'refused' || r.outcome === 'redirected'
        ? r.outcome
        : attempts >= MAX_ATTEMPTS
          ? 'given-up'
          : 'failed',
    );
    if (r.outcome === 'delivered') {
      await this.store.record(d.id, attempts, { kind: 'delivered' });
      return;
    }
    if (r.outcome === 'refused' || r.outcome === 'redirected') {
      await this.store.record(d.id, attempts, { kind: 'given-up', outcome: r.outcome, error: r.error });
      this.log.error(`callback ${r.outcome}`, { url: d.url, sessionId: d.session_id, error: r.error });
      return;
    }
    const backoffMs = Math.min(500 * 2 ** (attempts - 1), 60_000);
    const giveUp = attempts >= MAX_ATTEMPTS;
    const retryAt = Date.now() + backoffMs;
    await this.store.record(d.id, attempts, {
      kind: 'failed',
      error: r.error,
      retryAt: new Date(retryAt),
      giveUp,
    });
    if (!giveUp) this.retries.push(retryAt);
    if (giveUp) this.log.error('callback given up', { url: d.url, sessionId: d.session_id, error: r.error });
  }
}
