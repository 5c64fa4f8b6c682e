import type { Context } from 'koa';
import { openStreamResponse } from './stream-response.js';
import type { SessionEventRow } from '../persistence/rows.js';
import type { ApiContext } from './api-context.js';
import { clientGone } from './params.js';

/** One Server-Sent Event: its id (for Last-Event-ID), name and JSON data. */
function sseFrame(ev: SessionEventRow): string {
  return `id: ${ev.id}\nevent: ${ev.name}\ndata: ${JSON.stringify(ev.data)}\n\n`;
}

export interface EventStreamOptions {
  /** The keypair whose events may be sent (the backlog is read for it). */
  owner: string;
  /** Only this session's events, and its backlog. */
  sessionId: string | null;
  /** Which events go out (the owner and session are checked by the caller's predicate too). */
  match: (ev: SessionEventRow) => boolean;
  /** The backlog after this id is replayed first (Last-Event-ID). */
  afterId: number | null;
  /** Whether to replay the backlog when `afterId` is null (a one-session stream does). */
  replayWithoutId: boolean;
  /** The first comment line(s), e.g. `: bai event stream\n\n`. */
  greeting: string;
  /** How an event is written (default sseFrame: its name and whole data). */
  frame?: (ev: SessionEventRow) => string;
}

/**
 * Answers `ctx` with an event stream: subscribes to the hub first and buffers, replays the
 * backlog up to the hub's horizon, then lets the buffer through, so nothing falls between the
 * two. Ids sent are remembered (not a high-water mark: an event that committed late reaches
 * the hub after higher ids and must still go out). The stream ends when its response closes,
 * also when the client left before this ran; nothing is written once it is closed (a write
 * after end would throw).
 */
export async function streamEvents(ctx: Context, api: ApiContext, o: EventStreamOptions): Promise<void> {
  const stream = openStreamResponse(ctx, 'text/event-stream');
  ctx.set('Connection', 'keep-alive');
  let closed = false;
  const write = (text: string) => {
    if (!closed) stream.write(text);
  };

  let replayed = false;
  const sent = new Set<number>();
  const buffered: SessionEventRow[] = [];
  const send = (ev: SessionEventRow) => {
    if (sent.has(ev.id) || !o.match(ev)) return;
    sent.add(ev.id);
    if (sent.size > 20_000) {
      for (const id of sent) {
        sent.delete(id);
        if (sent.size <= 10_000) break;
      }
    }
    write((o.frame ?? sseFrame)(ev));
  };
  // The hub may be behind (nobody listened): read up to now first, so the replay's horizon
  // covers what was committed before this stream, and only later events come live.
  await api.hub.caughtUp();
  const unsubscribe = api.hub.subscribe((ev) => (replayed ? send(ev) : buffered.push(ev)));
  const keepAlive = setInterval(() => write(': keep-alive\n\n'), 15_000);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    unsubscribe();
    stream.end();
  };
  // The client may have gone while the caller's lookups ran: clientGone aborts at once then, so
  // the subscription and the keep-alive timer do not live forever.
  const gone = clientGone(ctx);
  if (gone.aborted) {
    close();
    return;
  }
  gone.addEventListener('abort', close, { once: true });
  write(o.greeting);
  if (o.afterId !== null || o.replayWithoutId) {
    try {
      const backlog = await api.events.backlog({
        accessKey: o.owner,
        upTo: api.hub.horizon(),
        afterId: o.afterId,
        sessionId: o.sessionId,
        limit: 10_000,
      });
      for (const ev of backlog) send(ev);
    } catch (err) {
      close(); // the replay failed: end the stream (the client reconnects with Last-Event-ID)
      throw err;
    }
  }
  replayed = true;
  for (const ev of buffered.splice(0)) send(ev);
}
