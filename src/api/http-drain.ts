import type { RequestListener, Server, ServerResponse } from 'node:http';

/**
 * The manager's HTTP side of a SIGTERM (docs/guarantees.md, "manager SIGTERM"): no new
 * connection is accepted; a request already in flight gets its whole answer (a create waiting
 * for its session to run included) and its connection is closed after it, as is every
 * keep-alive connection once idle, so no client sends one more request on a connection the
 * manager still holds open; event streams and logs follow streams end at once (an SSE client
 * reconnects, to another manager, with Last-Event-ID; a logs follower with `after=`). Past `graceMs`, what is still open is cut.
 */
export class HttpDrain {
  private draining = false;
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly handler: RequestListener) {}

  /** The server's request listener: `handler`, with the responses in flight tracked. */
  readonly listener: RequestListener = (req, res) => {
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
    if (this.draining) res.setHeader('Connection', 'close');
    this.handler(req, res);
  };

  /** Resolves true once every connection is closed, or false when `graceMs` cut them. */
  drain(server: Server, graceMs: number): Promise<boolean> {
    this.draining = true;
    for (const res of this.open) {
      if (!res.headersSent) res.setHeader('Connection', 'close');
      else if (isEventStream(res)) res.socket?.destroy();
    }
    return new Promise((resolve) => {
      const sweep = setInterval(() => server.closeIdleConnections(), 200);
      const force = setTimeout(() => {
        clearInterval(sweep);
        server.closeAllConnections();
        resolve(false);
      }, graceMs);
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(force);
        resolve(true);
      });
      server.closeIdleConnections();
    });
  }
}

/** An answer that lasts as long as its client listens: server-sent events, a logs follow stream. */
function isEventStream(res: ServerResponse): boolean {
  const type = String(res.getHeader('content-type') ?? '');
  return type.startsWith('text/event-stream') || type.startsWith('application/x-ndjson');
}
