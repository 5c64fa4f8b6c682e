import { InvalidRequest } from './errors.js';

const UNIT_SECONDS: Record<string, number> = {};
for (const [names, secs] of [
  [['d', 'day', 'days'], 86400],
  [['h', 'hr', 'hrs', 'hour', 'hours'], 3600],
  [['m', 'min', 'mins', 'minute', 'minutes'], 60],
  [['s', 'sec', 'secs', 'second', 'seconds'], 1],
] as const) {
  for (const n of names) UNIT_SECONDS[n] = secs;
}

const ISO_LIKE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses a relative time such as `10min`, `1h30m`, `+30s`, `2hours 15min`, `1d1hr` or a bare
 * number of seconds into signed seconds. Returns null when the text is not of that grammar.
 */
export function parseRelativeSeconds(text: string): number | null {
  let s = text.trim().toLowerCase();
  let sign = 1;
  if (s.startsWith('+') || s.startsWith('-')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1).trim();
  }
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return sign * Number(s);
  const part = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/gy;
  let total = 0;
  let consumed = 0;
  let lastRank = Infinity;
  let m: RegExpExecArray | null;
  while ((m = part.exec(s)) !== null) {
    const unit = UNIT_SECONDS[m[2] ?? ''];
    if (unit === undefined || unit >= lastRank) return null; // units go from large to small, once each
    lastRank = unit;
    total += Number(m[1]) * unit;
    consumed = part.lastIndex;
  }
  if (consumed !== s.length) return null;
  return sign * total;
}

/**
 * `starts_at`: ISO-8601 first, otherwise a relative time added to `now`. Throws InvalidRequest
 * with a message that shows the accepted forms.
 */
export function parseStartsAt(text: string, now: Date): Date {
  const trimmed = text.trim();
  if (ISO_LIKE.test(trimmed)) {
    const d = new Date(trimmed.replace(' ', 'T'));
    if (!Number.isNaN(d.getTime())) return d;
  }
  const secs = parseRelativeSeconds(trimmed);
  if (secs === null || !Number.isFinite(secs)) {
    throw new InvalidRequest(
      `starts_at "${text}" is neither an ISO-8601 time nor a relative time such as "10min", "1h30m" or "+30s".`,
    );
  }
  return new Date(now.getTime() + Math.round(secs * 1000));
}

/** `batch_timeout`: seconds (number or numeric text) or N(s|m|h|d|w). Returns seconds. */
export function parseTimeoutSeconds(value: unknown, field = 'batch_timeout'): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(value);
    if (m) {
      const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[(m[2] ?? '').toLowerCase()] ?? 1;
      const secs = Number(m[1]) * mult;
      if (secs > 0) return secs;
    }
  }
  throw new InvalidRequest(`${field} must be a positive number of seconds or N followed by s, m, h, d or w.`);
}
