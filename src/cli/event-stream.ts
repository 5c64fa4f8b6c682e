import { ApiError, type ApiClient } from './client.js';

export interface SseEvent {
  id: string | null;
  event: string;
  data: Record<string, unknown>;
}

/**
 * Follows `GET /events/session` for one session and calls `onEvent` per event until it returns
 * true (done) or `signal` aborts. A dropped stream is reopened with Last-Event-ID, so no event
 * is lost or repeated; ten failed connections in a row give up with the network error.
 */
export async function followSessionEvents(
  client: ApiClient,
  sessionId: string,
  scope: string,
  onEvent: (ev: SseEvent) => boolean | Promise<boolean>,
  signal?: AbortSignal,
  ownerAccessKey?: string,
): Promise<void> {
  let lastId: string | null = null;
  let failures = 0;
  for (;;) {
    if (signal?.aborted) return;
    let res: Response;
    try {
      res = await client.raw(
        'GET',
        '/events/session',
        undefined,
        { sessionId, scope, ownerAccessKey },
        lastId ? { 'Last-Event-ID': lastId } : {},
        signal,
      );
    } catch (err) {
      if (signal?.aborted) return;
      // The manager is away (restarting?): try again a few times before giving up.
      if (++failures > 10) throw err;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    failures = 0;
    if (!res.ok || !res.body) {
      const text = await res.text();
      let problem: ApiError['problem'];
      try {
        problem = JSON.parse(text) as ApiError['problem'];
      } catch {
        // Expected: a proxy's or a crashed server's body is not problem+json; quote it instead.
        problem = { title: `Event stream: HTTP ${res.status}.`, msg: text.slice(0, 200) };
      }
      throw new ApiError(res.status, problem);
    }
    const reader = res.body.getReader();
    try {
      for await (const ev of sseEvents(reader)) {
        if (ev.id) lastId = ev.id;
        if (await onEvent(ev)) {
          // Expected: the stream may already be closed by the server; we are done with it either way.
          await reader.cancel().catch(() => {});
          return;
        }
      }
    } catch {
      // Expected: the connection dropped (manager restarting, network); reconnect below from lastId.
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The events of a server-sent event stream as they arrive, until it ends (a read error is thrown). */
export async function* sseEvents(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let idx: number;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const ev = parseSseBlock(buf.slice(0, idx));
      buf = buf.slice(idx + 2);
      if (ev) yield ev;
    }
  }
}

/** One server-sent event from its block of lines (without the blank line), or null for a comment or non-JSON data. */
function parseSseBlock(block: string): SseEvent | null {
  let id: string | null = null;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { id, event, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
  } catch {
    // Expected: a data line that is not JSON (not an event of ours) is skipped.
    return null;
  }
}
