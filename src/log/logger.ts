import type { Writable } from 'node:stream';

/** What every long-running part logs through: a message and its context, one level each. */
export interface Logger {
  info(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}

/** One JSON object a line, for the long-running processes (manager, agent). */
export function jsonLogger(out: Writable, component: string): Logger {
  const write = (level: string, msg: string, extra?: Record<string, unknown>) => {
    out.write(`${JSON.stringify({ t: new Date().toISOString(), level, component, msg, ...extra })}\n`);
  };
  return {
    info: (msg, extra) => write('info', msg, extra),
    error: (msg, extra) => write('error', msg, extra),
  };
}
