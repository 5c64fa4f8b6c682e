import type { Writable } from 'node:stream';
import { pino, stdTimeFunctions, type DestinationStream, type Logger as Pino } from 'pino';
import { formatLine } from './pretty.js';
import { redacted } from './redact.js';

/** What every long-running part logs through: a message and its context, one level each. */
export interface Logger {
  info(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
  /** A logger whose every line carries `bindings` too (request id, session id, agent id). */
  child?(bindings: Record<string, unknown>): Logger;
}

/** `log` with `bindings` on every line; loggers without children (tests' own) get them merged. */
export function withContext(log: Logger, bindings: Record<string, unknown>): Logger {
  if (log.child) return log.child(bindings);
  return {
    info: (msg, extra) => log.info(msg, { ...bindings, ...extra }),
    error: (msg, extra) => log.error(msg, { ...bindings, ...extra }),
  };
}

export interface LoggerOptions {
  /** `json` (one object a line), or `pretty` (for a person at a terminal). Default: pretty on a TTY. */
  format?: 'json' | 'pretty';
  /** pino's level names: trace, debug, info, warn, error, fatal, silent. Default info. */
  level?: string;
}

/**
 * The process logger of `bai manager` and `bai agent`, on pino: synchronous writes (a line is out
 * before the next statement; nothing lost at exit), no transport threads. JSON lines with
 * `level`, `time`, `component`, `msg` and the context; a human-readable line when `out` is a TTY.
 */
export function jsonLogger(out: Writable, component: string, opts: LoggerOptions = {}): Logger {
  const tty = (out as Writable & { isTTY?: boolean }).isTTY === true;
  const format = opts.format ?? (tty ? 'pretty' : 'json');
  const dest: DestinationStream =
    format === 'pretty'
      ? { write: (line: string) => void out.write(formatLine(line)) }
      : out === process.stdout
        ? pino.destination({ dest: 1, sync: true })
        : { write: (line: string) => void out.write(line) };
  const p = pino(
    {
      level: opts.level ?? 'info',
      base: { component },
      timestamp: stdTimeFunctions.isoTime,
      // Secrets out of every line's context (redact.ts); a child's bindings are redacted by wrap
      // (pino's `bindings` formatter is the root's alone).
      formatters: { level: (label) => ({ level: label }), log: redacted },
    },
    dest,
  );
  return wrap(p);
}

function wrap(p: Pino): Logger {
  return {
    info: (msg, extra) => (extra ? p.info(extra, msg) : p.info(msg)),
    error: (msg, extra) => (extra ? p.error(extra, msg) : p.error(msg)),
    child: (bindings) => wrap(p.child(redacted(bindings))),
  };
}
