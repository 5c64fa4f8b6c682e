/**
 * One JSON log line as a person reads it at a terminal:
 * `12:00:01.234 INFO  manager manager listening url=http://127.0.0.1:8091`.
 * Our own few lines rather than pino-pretty: no transport, no worker thread, nothing to install.
 */
export function formatLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // Expected: not one of ours (cannot happen with pino's output); shown as it came.
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const { time, level, component, msg, ...rest } = o;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const lvl = String(level ?? '')
    .toUpperCase()
    .padEnd(5);
  const ctx = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${clock} ${lvl} ${String(component ?? '')} ${String(msg ?? '')}${ctx ? ` ${ctx}` : ''}\n`;
}
