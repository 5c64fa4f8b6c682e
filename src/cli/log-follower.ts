import { decodeTail, keptNote, skippedNote, splitMarker } from '../domain/output-tail.js';
import { StringDecoder } from 'node:string_decoder';
import type { ApiClient } from './client.js';

interface LogsAnswer {
  result: {
    logs: string;
    cursor?: string;
    more?: boolean;
    ended?: boolean;
    /** Incremental reads: bytes of the whole output before `logs`. */
    offset?: number;
    /** Incremental reads: an unknown part of the output was skipped before `logs`. */
    gap?: boolean;
    /** Incremental reads with wait_ms: the manager blocked on the live copy before answering. */
    waited?: boolean;
    /** Plain reads: the stored output is the tail of a longer one (and opens with a marker). */
    truncated?: boolean;
    totalBytes?: number | null;
  };
}

/**
 * Prints a session's output as it comes, each byte once, holding none of it. While the job
 * runs it reads the agent's live copy by cursor (`/logs?after=`), so a chunk is never printed
 * twice: through one long follow stream (`follow`, `&follow=1`: the manager sends each page as
 * the agent copies it), or page by page (`poll`; with `waitMs` each read blocks in the manager
 * until the agent appends, `wait_ms`). The copy is capped in bytes, and when it dropped what
 * was not read yet (the job prints faster than it is read), `note` says how much. When the job
 * has ended the stored output is the reference: what it has past what was printed is printed
 * then, and when that is only the tail of a longer output, `note` says how much was not shown.
 */
export class LogFollower {
  private cursor = '0';
  /** Bytes of the whole output up to the end of what was printed (or said to be skipped). */
  private covered = 0;
  private busy: Promise<void> = Promise.resolve();
  /** The manager answers follow streams (until it answers one with a plain page). */
  private streams = true;
  /** Part of the output was not shown. */
  truncated = false;

  constructor(
    private readonly client: ApiClient,
    private readonly sessionId: string,
    private readonly write: (text: string) => void | Promise<void>,
    private readonly query: Record<string, string | undefined> = {},
    private readonly note: (text: string) => void = () => {},
    private readonly waitMs = 0,
  ) {}

  /**
   * Prints what was copied since the last call; with `waitMs`, waits in the manager for the
   * next copy when there is none yet (`signal` ends the wait). Calls never overlap. Resolves
   * true when the next call may follow at once (output came, or the manager did block), false
   * when the caller should pace itself (nothing new without a wait, or the read failed).
   */
  poll(signal?: AbortSignal): Promise<boolean> {
    // Expected: a read that fails (manager restarting, network, an ended wait) is retried by the
    // next poll from the same cursor, so nothing is lost; finish() reads the rest and reports
    // its own failure.
    const run = this.busy.then(() => this.readNew(signal)).catch(() => false);
    this.busy = run.then(() => {});
    return run;
  }

  private skip(bytes: number): void {
    if (bytes <= 0) return;
    this.truncated = true;
    this.note(skippedNote(bytes));
  }

  private async readNew(signal?: AbortSignal): Promise<boolean> {
    for (let first = true; ; first = false) {
      // Only the first read of a call may wait: the pages after it are already there.
      const wait = first && this.waitMs > 0 && !signal?.aborted ? String(this.waitMs) : undefined;
      const r = await this.client.request<LogsAnswer>(
        'GET',
        `/session/${this.sessionId}/logs`,
        undefined,
        { ...this.query, after: this.cursor, ...(wait ? { wait_ms: wait } : {}) },
        {},
        wait ? signal : undefined,
      );
      if (r.result.cursor === undefined) return false; // a server without incremental reads
      const text = await this.take(r.result);
      if (!r.result.more) return text !== '' || r.result.waited === true;
    }
  }

  /** Prints one page of the incremental read and moves the cursor past it; returns its text. */
  private async take(page: LogsAnswer['result']): Promise<string> {
    const text = page.logs ?? '';
    if (page.gap) {
      this.truncated = true;
      this.note(skippedNote(null));
      if (page.offset !== undefined) this.covered = page.offset;
    }
    if (text) {
      const offset = page.offset;
      if (offset !== undefined) {
        this.skip(offset - this.covered);
        this.covered = Math.max(this.covered, offset);
      }
      await this.write(text);
      this.covered += Buffer.byteLength(text);
    }
    if (page.cursor !== undefined) this.cursor = page.cursor;
    return text;
  }

  /**
   * Prints what is copied from now on through one follow stream (`/logs?follow=1&after=`): the
   * manager sends each page as the agent copies it, until the kernel ended (resolves false:
   * nothing more will come, pace before asking again), `signal` aborts, or the stream broke
   * (a failure: false too, and the next call follows on from the last cursor). Calls never
   * overlap (nor with poll). A manager that answers with a plain page (no follow streams)
   * has it printed, and this follower polls with `wait_ms` from then on.
   */
  follow(signal: AbortSignal): Promise<boolean> {
    if (!this.streams) return this.poll(signal);
    // Expected: a stream cut (manager restarting or draining, network) or refused is followed
    // on by the next call from the same cursor, so nothing is lost or printed twice.
    const run = this.busy.then(() => this.readStream(signal)).catch(() => false);
    this.busy = run.then(() => {});
    return run;
  }

  private async readStream(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    const res = await this.client.stream(
      'GET',
      `/session/${this.sessionId}/logs`,
      { ...this.query, after: this.cursor, follow: '1' },
      signal,
    );
    if (!(res.headers.get('content-type') ?? '').startsWith('application/x-ndjson')) {
      this.streams = false;
      const r = JSON.parse(await res.text()) as LogsAnswer;
      if (r.result.cursor === undefined) return false;
      const text = await this.take(r.result);
      return text !== '' || r.result.more === true;
    }
    // A character may be split between two chunks: decoded across them.
    const utf8 = new StringDecoder('utf8');
    let rest = '';
    let pages = 0;
    for await (const chunk of res.body) {
      const lines = (rest + utf8.write(chunk)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        const page = JSON.parse(line) as LogsAnswer['result'];
        await this.take(page);
        if (page.ended) return false;
        pages++;
      }
    }
    // Ended by the manager without `ended` (it drains): follow on at once if it sent anything.
    return pages > 0;
  }

  /** After the session ended: the last live chunks, then what only the stored output has. */
  async finish(): Promise<void> {
    await this.poll();
    const r = await this.client.request<LogsAnswer>(
      'GET',
      `/session/${this.sessionId}/logs`,
      undefined,
      this.query,
    );
    const stored = r.result.logs ?? '';
    const total = r.result.totalBytes;
    if (!r.result.truncated) {
      // The whole output: print what the live copy did not bring.
      const b = Buffer.from(stored, 'utf8');
      if (this.covered < b.length) await this.write(decodeTail(b.subarray(this.covered), this.covered > 0));
      this.covered = Math.max(this.covered, b.length);
      return;
    }
    const tail = splitMarker(stored, true);
    if (total === undefined || total === null) {
      // An older agent: no size to place the tail by; show it when nothing was shown live.
      if (this.covered === 0) await this.write(stored);
      return;
    }
    const tailBytes = Buffer.from(tail, 'utf8');
    const tailStart = total - tailBytes.length;
    if (this.covered < total) {
      if (this.covered >= tailStart) {
        await this.write(decodeTail(tailBytes.subarray(this.covered - tailStart), true));
      } else {
        this.skip(tailStart - this.covered);
        await this.write(tail);
      }
      this.covered = total;
    }
    // Shown live to the end, but longer than what is kept: the live copy follows Docker's own
    // log, which skips what a fast job printed while it was read, so say it.
    if (!this.truncated) {
      this.truncated = true;
      this.note(keptNote(total, tailBytes.length));
    }
  }
}
