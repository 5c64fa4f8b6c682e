import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import type { Redis } from 'ioredis';
import type { AgentConfig } from '../../config/config.js';
import type { LogFollow, LogTail } from '../../docker/docker-adapter.js';
import { decodeTail, storedOutput } from '../../domain/output-tail.js';
import { liveCopyHoldsAll, liveCopyNeedsTail } from '../../domain/live-copy-end.js';
import type { Logger } from '../../log/logger.js';
import {
  LOG_ENTRY_BYTES,
  appendLog,
  lastLogId,
  logEndsWith,
  loggedBytes,
  type LogStreamLimits,
} from '../../queue/log-stream.js';
import type { AgentContext } from './agent-context.js';
import type { Tracked } from './tracked.js';

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
  /** Entries of the live copy that could not be written. */
  private failedWrites = 0;
  /** Bytes appended to the kernel's live copy in all, as the last append answered. */
  private total: number | null;
  /** Whether the copy began with the container's first byte (the agent started it just now). */
  private readonly fromStart: boolean;

  /** `total`: bytes the live copy holds in all at the start, when known (a copy begun from nothing: 0). */
  constructor(
    redis: Redis,
    prefix: string,
    agentId: string,
    kernelId: string,
    limits: LogStreamLimits,
    private readonly follow: LogFollow,
    log: Logger,
    total: number | null = null,
  ) {
    this.total = total;
    this.fromStart = total === 0;
    const decoder = new StringDecoder('utf8');
    const send = async (text: string): Promise<void> => {
      if (text === '') return;
      // Redis away: the write waits for it (ioredis queues it) and the stream stays paused.
      // One that fails still is a gap in the live copy only: the exit report's tail ends it.
      // The first failure is logged, the others counted (an outage fails every entry).
      await appendLog(redis, prefix, agentId, kernelId, text, limits).then(
        (total) => {
          if (this.failedWrites === 0) this.total = total;
        },
        (err: unknown) => {
          this.total = null; // not known any more: Redis says
          if (this.failedWrites++ === 0) log.error('live output copy failed', { kernelId, err: String(err) });
        },
      );
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
    this.done = pipeline(follow.stream, sink)
      .catch(() => {
        // Stopped, or the engine dropped the stream: the stored output at exit is the reference.
      })
      .finally(() => {
        if (this.failedWrites > 1)
          log.error('live output copy: writes failed', { kernelId, failed: this.failedWrites });
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

  /**
   * Bytes appended to the live copy in all, once the copy reached the end of the output
   * (`drain` answered true): null when not known here (a write failed, or the copy carried on
   * from an earlier agent's and wrote nothing).
   */
  get appended(): number | null {
    return this.total;
  }

  /**
   * Whether the copy already holds the whole output of its exited container, `tail` being the
   * engine's stored output: begun from the first byte, every write answered (a failed one
   * leaves `total` unknown), as many bytes as the engine stored and none cut. Its stream has
   * nothing more to give then, whenever the engine ends it.
   */
  holdsAll(tail: LogTail): boolean {
    return this.fromStart && liveCopyHoldsAll(this.total, tail);
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
async function endWithTail(
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

/** The bounds of a kernel's live output copy in Redis. */
function logLimits(config: AgentConfig): LogStreamLimits {
  return { maxBytes: config.logStreamBytes, maxEntries: config.logStreamEntries, ttlMs: 3_600_000 };
}

/**
 * Copies output to its live Redis copy while it runs, for `logs --follow` and `bai run`
 * (bounded in bytes and entries, see log-stream.ts; the agent holds at most two entries).
 * After a restart it carries on from the stream's last entry (entry ids are milliseconds), so
 * what an earlier agent copied is not copied twice and what ran unobserved is not lost.
 * `fresh`: the container was started just now, by this agent, so none of its output was copied
 * before: followed from its first line, without asking Redis.
 */
export function followLogs(
  ctx: AgentContext,
  tracked: Tracked,
  kernelId: string,
  containerId: string,
  fresh = false,
): void {
  const { redis, config, docker, log } = ctx;
  const prefix = config.queuePrefix;
  const last = fresh ? Promise.resolve(null) : lastLogId(redis, prefix, config.id, kernelId);
  last
    .then((id) => {
      const ms = id ? Number(id.split('-')[0]) : 0;
      return docker.followLogs(containerId, ms > 0 ? ms / 1000 : undefined);
    })
    .then((follow) => {
      const limits = logLimits(config);
      const copier = new LogCopier(redis, prefix, config.id, kernelId, limits, follow, log, fresh ? 0 : null);
      if (ctx.closing.aborted || tracked.state === 'exited') {
        copier.stop(); // a closing agent must not be held open by a late stream
        return;
      }
      tracked.copier = copier;
      tracked.stopLogs = () => copier.stop();
    })
    .catch((err: unknown) =>
      // No live copy (Redis or the engine away): the exit report's tail still ends it.
      log.error('following output failed', { sessionId: tracked.sessionId, kernelId, err: String(err) }),
    );
}

/** How long the live copy may take to reach the end of an exited container's output. */
const DRAIN_MS = 10_000;

/**
 * Whether the live copy reached the end of the output (undefined: no copy began). It waits for
 * the engine to end the follow stream, up to DRAIN_MS, unless the copy holds the whole stored
 * output already (LogCopier.holdsAll): the engine ends the stream some milliseconds after the
 * exit (8–16 ms measured here), on the way to every exit report, and a complete copy needs
 * nothing more from it. Its stream then ends on its own, off the report's path (stopped after
 * DRAIN_MS if it does not), and gives its connection back as before.
 */
async function copyDrained(tracked: Tracked, tailing: Promise<LogTail>): Promise<boolean | undefined> {
  const copier = tracked.copier;
  if (copier) {
    const tail = await tailing.catch(() => null);
    if (tail && copier.holdsAll(tail)) {
      void copier.drain(DRAIN_MS);
      return true;
    }
  }
  const drained = await copier?.drain(DRAIN_MS);
  tracked.stopLogs?.();
  return drained;
}

/** The output an exit report carries, and how much there was in all. */
interface FinalOutput {
  logs: string;
  truncated: boolean;
  totalBytes: number;
}

/**
 * Ends the live copy of an exited main and reads the output its exit report keeps. The live
 * copy takes in the last lines (its stream ends with the container; not waited for when the
 * copy holds them all already), and the stored output is the engine's tail, read as a stream
 * meanwhile: memory stays at the limit.
 */
export async function finishLogs(
  ctx: AgentContext,
  tracked: Tracked,
  main: { kernelId: string; containerId: string },
): Promise<FinalOutput> {
  const { redis, config, docker, log } = ctx;
  const limit = config.logLimitBytes;
  // The engine's stored output of an exited container is complete: read while the live copy
  // drains, not after it (one Docker round trip less on the way to the exit report).
  const tailing = docker.logTail(main.containerId, limit);
  tailing.catch(() => {}); // its failure is the await's below, after the drain
  const drained = await copyDrained(tracked, tailing);
  const prefix = config.queuePrefix;
  const where = { sessionId: tracked.sessionId, kernelId: main.kernelId };
  // The engine's copy rotates (json-file max-size): the live copy's count says how much
  // there was in all. (It may count a few lines twice after an agent restart, so it is
  // believed only past the limit.) Counted once the copy has drained: the copier's own count
  // when it knows it, else Redis's.
  const known = drained === true ? (tracked.copier?.appended ?? null) : null;
  const [tail, copied] = await Promise.all([
    tailing,
    known !== null
      ? known
      : loggedBytes(redis, prefix, config.id, main.kernelId).catch((err: unknown) => {
          log.error("counting the live output failed; the engine's count stands", {
            ...where,
            err: String(err),
          });
          return 0;
        }),
  ]);
  const truncated = tail.truncated || copied > limit;
  const totalBytes = truncated ? Math.max(tail.bytes, copied) : tail.bytes;
  // Docker's follow stream may end, or skip, before the last lines of a job that printed
  // faster than it could be read: then the live copy ends with the stored tail instead.
  const endsRight = await logEndsWith(redis, prefix, config.id, main.kernelId, tail.text).catch(
    (err: unknown) => {
      log.error("checking the live output's end failed; left as it is", { ...where, err: String(err) });
      return true;
    },
  );
  const needsTail = liveCopyNeedsTail({
    drained,
    endsRight,
    copiedBytes: copied,
    tailBytes: tail.bytes,
    tailTruncated: tail.truncated,
  });
  if (needsTail) {
    const gap = copied > 0 || tail.truncated;
    await endWithTail(redis, prefix, config.id, main.kernelId, tail.text, logLimits(config), gap).catch(
      (err: unknown) =>
        log.error('ending the live output with its tail failed', { ...where, err: String(err) }),
    );
  }
  return { logs: storedOutput({ text: tail.text, truncated }, limit), truncated, totalBytes };
}
