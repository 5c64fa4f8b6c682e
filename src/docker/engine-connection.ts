import net from 'node:net';
import { Readable } from 'node:stream';
import { ResponseParser, type ResponseSink } from './http-response-parser.js';

/** Where the engine listens: a unix socket, or an http host and port. */
export type EngineAddress = { socketPath: string } | { host: string; port: number };

/** A 2xx stream's head, or any other answer read whole. */
export interface Answer {
  status: number;
  stream?: Readable;
  body?: Buffer[];
}

/**
 * One connection to the engine, one call at a time: the request written in one write, the
 * answer read by ResponseParser. Its listeners are set once and hand what the socket says to the
 * call under way; a connection without one that hears anything (its end, a stray byte) closes.
 * `free` is called when an answer ended and the connection may carry the next call.
 */
export class EngineConnection {
  private readonly socket: net.Socket;
  private call: Call | null = null;
  /** Whether it carried a call before this one (a kept connection may have gone stale). */
  private used = false;

  constructor(
    address: EngineAddress,
    private readonly free: (c: EngineConnection) => void,
    onClose: (c: EngineConnection) => void,
  ) {
    this.socket =
      'socketPath' in address ? net.connect(address.socketPath) : net.connect(address.port, address.host);
    if (!('socketPath' in address)) this.socket.setNoDelay(true);
    this.socket.on('data', (b: Buffer) => (this.call ? this.call.bytes(b) : this.socket.destroy()));
    this.socket.on('end', () => (this.call ? this.call.eof() : this.socket.destroy()));
    this.socket.on('error', (err: Error) => this.call?.fail(err));
    this.socket.on('close', () => {
      this.call?.fail(Object.assign(new Error('the engine closed the connection'), { code: 'ECONNRESET' }));
      onClose(this);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Kept for a later call: it does not hold the process open meanwhile. */
  park(): void {
    this.socket.unref();
    this.socket.resume(); // a stream's last bytes may have paused it; its end must be heard
  }

  /**
   * Sends a request and reads its answer: a 2xx answer of a stream resolves at its head, with its
   * body as a Readable; any other resolves with its whole body. `signal` ends it at once (its
   * reason is the rejection) and closes the connection.
   */
  send(
    method: string,
    path: string,
    payload: string | undefined,
    signal: AbortSignal | undefined,
    streaming: boolean,
  ): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      // Closed already (the client was closed): a write would fail without a word.
      if (this.socket.destroyed) return reject(new Error('the engine connection is closed'));
      const call = new Call(this, method === 'HEAD', streaming, this.used, resolve, reject, signal);
      this.used = true;
      this.call = call;
      this.socket.ref();
      this.socket.resume();
      const length =
        payload === undefined
          ? ''
          : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`;
      this.socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: docker\r\n${length}\r\n${payload ?? ''}`,
        (err) => {
          if (err) call.fail(err);
        },
      );
    });
  }

  /** The call is over: `keep` gives the connection back for the next one, else it closes. */
  settled(call: Call, keep: boolean): void {
    if (this.call !== call) return;
    this.call = null;
    if (keep && !this.socket.destroyed) this.free(this);
    else this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

/** One request's answer as it is read, on its connection. */
class Call implements ResponseSink {
  private readonly parser: ResponseParser;
  private readonly chunks: Buffer[] = [];
  private status = 0;
  private stream: Readable | null = null;
  private over = false;
  private readonly onAbort: (() => void) | null;

  constructor(
    private readonly conn: EngineConnection,
    bodiless: boolean,
    private readonly streaming: boolean,
    private readonly kept: boolean,
    private readonly resolve: (a: Answer) => void,
    private readonly reject: (err: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.parser = new ResponseParser(this, bodiless);
    this.onAbort = signal ? () => this.fail(signal.reason as Error) : null;
    if (this.onAbort) signal!.addEventListener('abort', this.onAbort, { once: true });
  }

  bytes(b: Buffer): void {
    try {
      this.parser.push(b);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  eof(): void {
    try {
      this.parser.eof();
    } catch (err) {
      this.fail(Object.assign(err as Error, { code: 'ECONNRESET' }));
    }
  }

  head(status: number): void {
    this.status = status;
    if (!this.streaming || status < 200 || status >= 300) return;
    this.stream = new Readable({
      read: () => this.conn.resume(),
      destroy: (err, cb) => {
        // Destroyed before its end: the rest of the answer is never read, nor the connection kept.
        if (!this.over) this.finish(false);
        cb(err);
      },
    });
    this.stopAbort();
    this.resolve({ status, stream: this.stream });
  }

  data(chunk: Buffer): void {
    if (!this.stream) this.chunks.push(chunk);
    else if (!this.stream.push(chunk)) this.conn.pause();
  }

  end(): void {
    this.finish(this.parser.keepAlive);
    if (this.stream) this.stream.push(null);
    else this.resolve({ status: this.status, body: this.chunks });
  }

  fail(err: Error): void {
    if (this.over) return;
    this.finish(false);
    // A kept connection the engine closed meanwhile: nothing of this call was read, so it may go again.
    if (this.kept && !this.parser.started && isStale(err)) Object.assign(err, { retryable: true });
    if (this.stream) this.stream.destroy(err);
    else this.reject(err);
  }

  private finish(keep: boolean): void {
    this.over = true;
    this.stopAbort();
    this.conn.settled(this, keep);
  }

  private stopAbort(): void {
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
  }
}

function isStale(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}
