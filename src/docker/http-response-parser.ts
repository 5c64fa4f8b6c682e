/**
 * An HTTP/1.1 response read from bytes as they arrive, for the engine's kept connections
 * (engine-connection.ts): the status line and headers, then the body framed by its length, by
 * chunks, or by the end of the connection. Pure: no socket here, so the framing is unit-tested
 * byte by byte.
 */

/** What the parser found: the head once, then the body's bytes, then its end (or an error). */
export interface ResponseSink {
  head(status: number, headers: ReadonlyMap<string, string>): void;
  data(chunk: Buffer): void;
  end(): void;
}

/** The response broke HTTP (a head too long or malformed, a bad chunk size): the connection is unusable. */
export class HttpFramingError extends Error {
  constructor(message: string) {
    super(`engine HTTP response: ${message}`);
    this.name = 'HttpFramingError';
  }
}

/** A head larger than this is not the engine's: refused rather than buffered without bound. */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done';

export class ResponseParser {
  private state: State = 'head';
  private pending: Buffer | null = null;
  private left = 0;
  /** False when the engine said `Connection: close` (or spoke HTTP/1.0 without keep-alive). */
  keepAlive = true;
  /** Whether any byte of the response arrived (a kept connection closed before one may be retried). */
  started = false;

  /** `bodiless`: the request was a HEAD (its answer has headers only, whatever they say). */
  constructor(
    private readonly sink: ResponseSink,
    private readonly bodiless = false,
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Feeds bytes. Bytes after the response's end are left over: with one request at a time on a
   * connection the engine sends none, so any make the connection unusable (`keepAlive` false).
   */
  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.started = true;
    let b = this.pending ? Buffer.concat([this.pending, bytes]) : bytes;
    this.pending = null;
    while (b.length > 0) {
      const rest = this.step(b);
      if (rest === null) return; // waiting for more bytes (kept in `pending`)
      b = rest;
      if (this.state === 'done' && b.length > 0) {
        this.keepAlive = false;
        return;
      }
    }
  }

  /** The connection ended: the end of a body framed by it, else a response cut short. */
  eof(): void {
    if (this.state === 'close') {
      this.state = 'done';
      this.sink.end();
      return;
    }
    if (this.state !== 'done') throw new HttpFramingError('the connection closed before the response ended');
  }

  /** One step of the state machine on `b`: the bytes it left, or null when it needs more. */
  private step(b: Buffer): Buffer | null {
    switch (this.state) {
      case 'head':
        return this.readHead(b);
      case 'length': {
        const n = Math.min(this.left, b.length);
        this.left -= n;
        this.sink.data(n === b.length ? b : b.subarray(0, n));
        if (this.left === 0) this.finish();
        return b.subarray(n);
      }
      case 'close':
        this.sink.data(b);
        return b.subarray(b.length);
      case 'chunk-size': {
        const i = b.indexOf(CRLF);
        if (i < 0) return this.keep(b, 'a chunk size line');
        const line = b.toString('latin1', 0, i);
        const hex = line.split(';', 1)[0]!.trim(); // a chunk extension (`;name=value`) is ignored
        if (!/^[0-9a-fA-F]{1,12}$/.test(hex))
          throw new HttpFramingError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
        const size = parseInt(hex, 16);
        this.left = size;
        this.state = size === 0 ? 'trailers' : 'chunk-data';
        return b.subarray(i + 2);
      }
      case 'chunk-data': {
        const n = Math.min(this.left, b.length);
        this.left -= n;
        this.sink.data(n === b.length ? b : b.subarray(0, n));
        if (this.left === 0) this.state = 'chunk-crlf';
        return b.subarray(n);
      }
      case 'chunk-crlf': {
        if (b[0] !== 0x0d || (b.length > 1 && b[1] !== 0x0a))
          throw new HttpFramingError('a chunk not followed by CRLF');
        if (b.length < 2) return this.keep(b, 'a chunk end');
        this.state = 'chunk-size';
        return b.subarray(2);
      }
      case 'trailers': {
        // Trailer lines (none from the engine), then an empty line.
        const i = b.indexOf(CRLF);
        if (i < 0) return this.keep(b, 'the trailers');
        if (i === 0) this.finish();
        return b.subarray(i + 2);
      }
      case 'done':
        return b;
    }
  }

  private keep(b: Buffer, what: string): null {
    if (b.length > MAX_HEAD_BYTES) throw new HttpFramingError(`${what} longer than ${MAX_HEAD_BYTES} bytes`);
    this.pending = b;
    return null;
  }

  private readHead(b: Buffer): Buffer | null {
    const end = b.indexOf(HEAD_END);
    if (end < 0) return this.keep(b, 'the head');
    const lines = b.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
    if (!m) throw new HttpFramingError(`bad status line ${JSON.stringify(lines[0]!.slice(0, 40))}`);
    const status = Number(m[2]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new HttpFramingError(`bad header line ${JSON.stringify(line.slice(0, 40))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const before = headers.get(name);
      headers.set(name, before === undefined ? value : `${before}, ${value}`);
    }
    const rest = b.subarray(end + 4);
    // An interim answer (100 Continue…): the real one follows on the same connection.
    if (status >= 100 && status < 200 && status !== 101) return rest;
    const connection = (headers.get('connection') ?? '').toLowerCase();
    this.keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    this.sink.head(status, headers);
    this.state = this.framing(status, headers);
    if (this.state === 'done') this.sink.end();
    return rest;
  }

  private framing(status: number, headers: ReadonlyMap<string, string>): State {
    if (this.bodiless || status === 204 || status === 304 || status === 101) return 'done';
    const te = headers.get('transfer-encoding');
    if (te !== undefined) {
      if (/(^|,)\s*chunked\s*$/i.test(te)) return 'chunk-size';
      this.keepAlive = false;
      return 'close';
    }
    const cl = headers.get('content-length');
    if (cl !== undefined) {
      if (!/^\d+$/.test(cl))
        throw new HttpFramingError(`bad Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
      this.left = Number(cl);
      return this.left === 0 ? 'done' : 'length';
    }
    this.keepAlive = false;
    return 'close';
  }

  private finish(): void {
    this.state = 'done';
    this.sink.end();
  }
}
