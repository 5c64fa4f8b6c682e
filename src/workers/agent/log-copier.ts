import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Redis } from 'ioredis';
import type { LogFollow } from '../../docker/docker-adapter.js';
import { decodeTail } from '../../domain/output-tail.js';
import { LOG_ENTRY_BYTES, appendLog, type LogStreamLimits } from '../../queue/log-stream.js';

/**
 * Copies a running container's output to its live Redis copy (see log-stream.ts), one bounded
 * entry at a time. What arrives while an entry is being written is gathered into the next one
 * (up to LOG_ENTRY_BYTES); beyond that the engine's stream is paused, so the agent holds at
 * most about two entries of a container's output, however fast it prints. Entries end on
 * whole UTF-8 characters.
 */
export class LogCopier {
  readonly done: Promise<void>;
  private stopped = false;

  constructor(
    redis: Redis,
    prefix: string,
    agentId: string,
    kernelId: string,
    limits: LogStreamLimits,
    private readonly follow: LogFollow,
  ) {
    const decoder = new StringDecoder('utf8');
    const send = async (text: string): Promise<void> => {
      if (text === '') return;
      // Redis away: the write waits for it (ioredis queues it) and the stream stays paused.
      await appendLog(redis, prefix, agentId, kernelId, text, limits).catch(() => {});
    };
    const sink = new Writable({
      highWaterMark: LOG_ENTRY_BYTES,
      writev(chunks, cb) {
        const all = Buffer.concat(chunks.map((c) => c.chunk as Buffer));
        (async () => {
          for (let i = 0; i < all.length; i += LOG_ENTRY_BYTES) {
            await send(decoder.write(all.subarray(i, i + LOG_ENTRY_BYTES)));
          }
        })().then(() => cb(), cb);
      },
      final(cb) {
        send(decoder.end()).then(() => cb(), cb);
      },
    });
    this.done = pipeline(follow.stream, sink).catch(() => {
      // Stopped, or the engine dropped the stream: the stored output at exit is the reference.
    });
  }

  /**
   * Waits up to `ms` for the copy to reach the end of the output (the container has exited);
   * false when it did not.
   */
  async drain(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      this.done.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
    clearTimeout(timer);
    this.stop();
    return ended;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.follow.stop();
  }
}

/**
 * When the live copy could not reach the end of the output (the copy fell behind a job that
 * printed faster than it could be followed), the stored tail ends it instead, after a gap
 * entry (`gap`: when it held something else before, or the tail is not the whole output):
 * followers then print the true end and say that something was skipped.
 */
export async function endWithTail(
  redis: Redis,
  prefix: string,
  agentId: string,
  kernelId: string,
  tail: string,
  limits: LogStreamLimits,
  gap: boolean,
): Promise<void> {
  let b = Buffer.from(tail, 'utf8');
  if (b.length > limits.maxBytes) b = Buffer.from(decodeTail(b.subarray(b.length - limits.maxBytes), true));
  const decoder = new StringDecoder('utf8');
  let first = gap;
  for (let i = 0; i === 0 || i < b.length; i += LOG_ENTRY_BYTES) {
    const text =
      decoder.write(b.subarray(i, i + LOG_ENTRY_BYTES)) +
      (i + LOG_ENTRY_BYTES >= b.length ? decoder.end() : '');
    await appendLog(redis, prefix, agentId, kernelId, text, limits, first);
    first = false;
  }
}
