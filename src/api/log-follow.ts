import type { Context } from 'koa';
import type { PassThrough } from 'node:stream';
import { isTerminal } from '../domain/status.js';
import type { KernelRow, SessionRow } from '../persistence/rows.js';
import { readLogPage } from '../queue/log-stream.js';
import type { LogReader } from '../queue/log-waiters.js';
import { logStreamKey } from '../queue/names.js';
import type { ApiContext } from './api-context.js';
import { clientGone } from './params.js';
import { openStreamResponse } from './stream-response.js';

/** The media type of a follow stream: one JSON page a line. */
export const FOLLOW_TYPE = 'application/x-ndjson';

export interface FollowLimits {
  /** Output per page (about: a page holds whole entries). */
  pageBytes: number;
  /** One blocked XREAD at most this long, then a look at what the session's events said. */
  blockMs: number;
  /** A follower with no reader of its own (past the cap) reads this often. */
  paceMs: number;
  /** A kernel with no agent yet, or no event: its row is read again this often. */
  recheckMs: number;
  /** An empty page after this much silence (keeps proxies from cutting an idle stream). */
  keepAliveMs: number;
}

export const FOLLOW_LIMITS: FollowLimits = {
  pageBytes: 1024 * 1024,
  blockMs: 1_000,
  paceMs: 250,
  recheckMs: 5_000,
  keepAliveMs: 15_000,
};

/** One line of the stream: a page of the incremental read (`after=`), or the last one. */
interface FollowPage {
  logs: string;
  cursor: string;
  offset?: number;
  gap?: true;
  ended?: true;
}

/**
 * Answers `ctx` with a follow stream of kernel `k`'s live output from cursor `after`
 * (`GET /session/{ref}/logs?follow=1`): the caller has authenticated the request and resolved
 * the session once; from here a page costs one blocked `XREAD` on a Redis connection the
 * stream holds for its lifetime (LogWaiters.reader; past the cap, a read every `paceMs` on
 * the shared connection) and one write, no SQL. The session's events (the hub) say when to
 * look at the kernel's row again: its agent (the live copy's key) and whether it has ended.
 * The stream ends with an `ended` page once the kernel's output is stored (the agent has
 * copied all of it) or the session is over, and everything copied was sent; it ends without
 * one when the client goes away, the manager closes (LogWaiters.close, the HTTP drain) or
 * Redis fails: the client follows on with `after=` its last cursor.
 */
export function followLogs(
  ctx: Context,
  api: ApiContext,
  s: SessionRow,
  k: KernelRow,
  after: string,
  limits: FollowLimits = FOLLOW_LIMITS,
): void {
  const gone = clientGone(ctx);
  const stop = AbortSignal.any([gone, api.logWaiters.closing]);
  const body = openStreamResponse(ctx, FOLLOW_TYPE);
  // Expected: a write racing the response's close; the stream's own signal ends the follow.
  body.on('error', () => {});
  void new Follow(api, s, k, after, limits, body, stop).run();
}

class Follow {
  private recheck = false;
  /** The session is over (or gone): nothing more will be copied. */
  private sessionOver = false;
  private wake: (() => void) | null = null;
  private lastWrite = Date.now();
  private lastCheck = Date.now();
  private reader: LogReader | null;

  constructor(
    private readonly api: ApiContext,
    private readonly s: SessionRow,
    private k: KernelRow,
    private cursor: string,
    private readonly limits: FollowLimits,
    private readonly body: PassThrough,
    private readonly stop: AbortSignal,
  ) {
    this.reader = api.logWaiters.reader(stop);
    this.sessionOver = isTerminal(s.status);
  }

  async run(): Promise<void> {
    const unsubscribe = this.api.hub.subscribe((ev) => {
      if (ev.session_id !== this.s.id) return;
      this.recheck = true;
      this.wake?.();
    });
    const onStop = () => this.wake?.();
    this.stop.addEventListener('abort', onStop, { once: true });
    try {
      await this.loop();
    } catch (err) {
      // Redis or PostgreSQL failed under the stream: it ends without `ended`, and the client
      // follows on from its last cursor (with another request, perhaps to another manager).
      if (!this.stop.aborted)
        this.api.log.info('log follow stream ended by a failure', {
          sessionId: this.s.id,
          err: String((err as Error)?.message ?? err),
        });
    } finally {
      unsubscribe();
      this.stop.removeEventListener('abort', onStop);
      this.reader?.close();
      if (!this.body.destroyed) this.body.end();
    }
  }

  private async loop(): Promise<void> {
    while (!this.stop.aborted) {
      const now = Date.now();
      if (this.recheck || now - this.lastCheck >= this.limits.recheckMs) await this.reload();
      // The row says the kernel ended before this read: what the agent copied is all there.
      const ended = this.k.logs !== null || this.sessionOver;
      if (this.k.agent_id) await this.sendPages(this.k.agent_id);
      if (this.stop.aborted) return;
      if (ended) {
        await this.send({ logs: '', cursor: this.cursor, ended: true });
        return;
      }
      if (Date.now() - this.lastWrite >= this.limits.keepAliveMs)
        await this.send({ logs: '', cursor: this.cursor });
      if (this.k.agent_id && this.reader) {
        const key = logStreamKey(this.api.prefix, this.k.agent_id, this.k.id);
        if (!(await this.reader.wait(key, this.cursor, this.limits.blockMs))) return;
      } else {
        await this.sleep(this.k.agent_id ? this.limits.paceMs : this.limits.recheckMs);
      }
    }
  }

  /** The kernel's row and the session's status again (after one of its events, or a while). */
  private async reload(): Promise<void> {
    this.recheck = false;
    this.lastCheck = Date.now();
    const [row, kernels] = await Promise.all([
      this.api.sessions.get(this.s.id),
      this.api.sessions.kernels(this.s.id),
    ]);
    this.sessionOver = !row || isTerminal(row.status);
    const k = kernels.find((x) => x.id === this.k.id);
    if (k) this.k = k;
    else this.sessionOver = true;
  }

  /** Every page after the cursor, each written as it is read (waiting while the client reads). */
  private async sendPages(agentId: string): Promise<void> {
    const redis = this.reader?.redis ?? this.api.redis;
    for (;;) {
      const page = await readLogPage(
        redis,
        this.api.prefix,
        agentId,
        this.k.id,
        this.cursor,
        this.limits.pageBytes,
      );
      if (this.stop.aborted) return;
      if (page.logs !== '' || page.gap) {
        await this.send({
          logs: page.logs,
          cursor: page.cursor,
          ...(page.offset !== null ? { offset: page.offset } : {}),
          ...(page.gap ? { gap: true as const } : {}),
        });
      }
      this.cursor = page.cursor;
      if (!page.more || this.stop.aborted) return;
    }
  }

  private async send(page: FollowPage): Promise<void> {
    this.lastWrite = Date.now();
    // Koa destroys the body when the response closes: nothing is written after that.
    if (this.body.destroyed || this.body.writableEnded) return;
    if (this.body.write(`${JSON.stringify(page)}\n`)) return;
    // The client reads slower than the job prints: hold the next read until it caught up.
    await new Promise<void>((resolve) => {
      const done = () => {
        this.body.off('drain', done);
        this.stop.removeEventListener('abort', done);
        resolve();
      };
      this.body.on('drain', done);
      this.stop.addEventListener('abort', done, { once: true });
    });
  }

  /** Waits `ms`, or less when the session has an event or the stream stops. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = null;
    });
  }
}
