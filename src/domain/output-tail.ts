/**
 * The bounded tail of a job's output: however much is pushed, only the last `limit` bytes are
 * held (in at most two buffers of `limit` bytes), and the total is counted. What every hop
 * that reads a whole output (the agent at exit, `bai run --json`) keeps.
 */
export class OutputTail {
  private cur: Buffer;
  private curLen = 0;
  private prev: Buffer | null = null;
  private total = 0;

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new Error('OutputTail limit must be positive.');
    this.cur = Buffer.alloc(Math.min(limit, 64 * 1024));
  }

  push(chunk: Buffer | string): void {
    let b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.total += b.length;
    if (b.length >= this.limit) {
      b = b.subarray(b.length - this.limit);
      this.prev = null;
      this.cur = Buffer.from(b);
      this.curLen = b.length;
      return;
    }
    if (this.curLen + b.length > this.limit) {
      // The current buffer is (about) full: it becomes the previous one, a new one starts.
      this.prev = this.cur.subarray(0, this.curLen);
      this.cur = Buffer.alloc(this.limit);
      this.curLen = 0;
    } else if (this.curLen + b.length > this.cur.length) {
      const grown = Buffer.alloc(Math.min(this.limit, Math.max(this.cur.length * 2, this.curLen + b.length)));
      this.cur.copy(grown, 0, 0, this.curLen);
      this.cur = grown;
    }
    b.copy(this.cur, this.curLen);
    this.curLen += b.length;
  }

  /** Bytes pushed in all. */
  get totalBytes(): number {
    return this.total;
  }

  get truncated(): boolean {
    return this.total > this.limit;
  }

  /** The last `limit` bytes, decoded; a character cut at the start is dropped, not garbled. */
  text(): string {
    const cur = this.cur.subarray(0, this.curLen);
    let all = cur;
    if (this.prev) {
      const need = this.limit - this.curLen;
      all = Buffer.concat([this.prev.subarray(Math.max(0, this.prev.length - need)), cur]);
    }
    return decodeTail(all, this.truncated);
  }
}

/** Decodes bytes that may start inside a UTF-8 character (when `cut`): skips its continuation bytes. */
export function decodeTail(b: Buffer, cut: boolean): string {
  let i = 0;
  if (cut) while (i < b.length && i < 3 && (b[i]! & 0xc0) === 0x80) i++;
  return b.subarray(i).toString('utf8');
}

/** What `bai run --json` and `bai session logs -f --json` keep of an output: its tail. */
export const JSON_OUTPUT_BYTES = 4 * 1024 * 1024;

/** The line that opens a stored output whose beginning was dropped. */
export function truncationMarker(keptBytes: number): string {
  return `[bai: output truncated, last ${keptBytes} bytes follow]\n`;
}

/** An output as stored: the kept tail, opened by the marker line when its beginning was dropped. */
export function storedOutput(tail: { text: string; truncated: boolean }, limit: number): string {
  return tail.truncated ? truncationMarker(limit) + tail.text : tail.text;
}

/** Splits a stored output into its marker line (when truncated) and the kept tail. */
export function splitMarker(logs: string, truncated: boolean): string {
  if (!truncated || !logs.startsWith('[bai: output truncated')) return logs;
  const nl = logs.indexOf('\n');
  return nl < 0 ? '' : logs.slice(nl + 1);
}

/**
 * A note for a reader that missed part of an output (live copy capped, or stored tail only);
 * `null` when how much is not known.
 */
export function skippedNote(bytes: number | null): string {
  return bytes === null
    ? '[bai: output truncated: some output not shown]\n'
    : `[bai: output truncated: ${bytes} bytes not shown]\n`;
}

/** A note at the end of an output longer than what is kept of it. */
export function keptNote(totalBytes: number, keptBytes: number): string {
  return `[bai: output truncated: ${totalBytes} bytes in all, the last ${keptBytes} kept]\n`;
}

/**
 * Docker's json-file options for a container whose output is kept to `limitBytes`: two files
 * of twice the limit, so the engine's copy is bounded and still holds the whole tail bai keeps
 * (json-file stores each line with its own envelope, hence twice).
 */
export function dockerLogOptions(limitBytes: number, maxBytes?: number): Record<string, string> {
  const size = Math.max(1024 * 1024, Math.ceil(maxBytes ?? 2 * limitBytes));
  return { 'max-size': String(size), 'max-file': '2' };
}
