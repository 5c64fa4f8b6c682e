/**
 * Secrets kept out of log lines: the value of any of these fields is written as `[redacted]`,
 * wherever the field sits in a line's context down to three levels (`environ`,
 * `job.registryAuth`, `req.headers.authorization`), and in a child logger's bindings alike
 * (docs/logging.md).
 *
 * Ours rather than pino's `redact` option, which parsed every path again on every line and
 * copied the context to redact it: an eighth of the agent's garbage, a twentieth of the
 * manager's, and 6 µs a line against 2 here (docs/benchmarks.md, "Round twenty-one"). A line
 * whose context holds no such field is passed on as it is; one that does is copied along the
 * path to the field, never changed in place (the caller's objects stay as they were).
 */

/** The fields whose values are never written. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set([
  'environ',
  'registryAuth',
  'password',
  'authorization',
  'secretKey',
  'secret_key',
  'webhookSecret',
  'webhook_secret',
  'token',
]);

export const CENSOR = '[redacted]';

/** How deep into a line's context fields are looked at (the context itself is level one). */
const LEVELS = 3;

/**
 * `value` with every secret field's value censored down to `levels` levels: the same object
 * when nothing was, else a copy of the objects on the way to what was. Only plain objects and
 * arrays are looked into (a Buffer, a Date or an Error is written as pino writes it).
 */
export function redacted<T>(value: T, levels = LEVELS): T {
  if (levels === 0 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const r = redacted(item, levels - 1);
      if (r !== item) (copy ??= value.slice())[i] = r;
    }
    return (copy ?? value) as T;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const obj = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(obj)) {
    const field = obj[key];
    // An absent value (undefined) stays absent: pino leaves it out of the line.
    const r = SECRET_FIELDS.has(key) && field !== undefined ? CENSOR : redacted(field, levels - 1);
    if (r !== field) (copy ??= { ...obj })[key] = r;
  }
  return (copy ?? obj) as T;
}
