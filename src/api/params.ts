import type { Context } from 'koa';
import { InvalidRequest } from '../domain/errors.js';
import { requirePrintable } from '../domain/printable.js';

/** Reading admin request bodies and query strings: every wrong type is a 400 naming the field. */
export type Fields = Record<string, unknown>;

export function bodyOf(ctx: Context): Fields {
  const b = ctx.state.body as unknown;
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new InvalidRequest('The request body must be a JSON object.');
  return b as Fields;
}

export function queryOf(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function reqName(o: Fields, key: string, re = NAME_RE): string {
  const v = optString(o, key, 64);
  if (v === undefined) throw new InvalidRequest(`${key} is required.`);
  if (!re.test(v)) throw new InvalidRequest(`${key} "${v}" is not a valid name.`);
  return v;
}

export function optString(o: Fields, key: string, max = 512): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidRequest(`${key} must be a string.`);
  if (v.length > max) throw new InvalidRequest(`${key} is longer than ${max} characters.`);
  return requirePrintable(v, key);
}

export function optBool(o: Fields, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InvalidRequest(`${key} must be true or false.`);
  return v;
}

/** An integer in [min, max]; `null` is kept when `nullable` (it means "no limit"). */
export function optInt(
  o: Fields,
  key: string,
  min: number,
  max: number,
  nullable = false,
): number | null | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (v === null) {
    if (nullable) return null;
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new InvalidRequest(`${key} must be an integer from ${min} to ${max}.`);
  return v;
}

export function optStringList(o: Fields, key: string, max = 256): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (
    !Array.isArray(v) ||
    v.length > max ||
    v.some((x) => typeof x !== 'string' || x === '' || x.length > 256)
  )
    throw new InvalidRequest(`${key} must be a list of at most ${max} non-empty strings.`);
  for (const x of v as string[]) requirePrintable(x, key);
  return [...new Set(v as string[])];
}

export function optStringMap(o: Fields, key: string, max = 256): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidRequest(`${key} must be an object.`);
  const entries = Object.entries(v as Fields);
  if (entries.length > max) throw new InvalidRequest(`${key} has more than ${max} entries.`);
  const out: Record<string, string> = {};
  for (const [k, x] of entries) {
    if (typeof x !== 'string' || x.length > 4096)
      throw new InvalidRequest(`${key}.${k} must be a string of at most 4096 characters.`);
    out[requirePrintable(k, `${key} key`)] = requirePrintable(x, `${key}.${k}`);
  }
  return out;
}

/** Slot amounts as numbers (`{"cpu": 4, "mem": 8589934592}`), for policies. */
export function optNumberMap(o: Fields, key: string): Record<string, number> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidRequest(`${key} must be an object.`);
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v as Fields)) {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0)
      throw new InvalidRequest(`${key}.${k} must be a non-negative number.`);
    out[k] = x;
  }
  return out;
}

/** Refuses fields the route does not know, so a typo is not silently ignored. */
export function onlyFields(o: Fields, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new InvalidRequest(`Unknown field "${k}"; known: ${allowed.join(', ')}.`);
}

/** A query flag: `true`, `1` or `yes` (any case) is set; anything else, or absent, is not. */
export function queryFlag(ctx: Context, name: string): boolean {
  return ['true', '1', 'yes'].includes((queryOf(ctx, name) ?? '').toLowerCase());
}

/**
 * Aborts when the client goes away before the answer is written. A client that left while
 * earlier awaits ran (auth, body) has its 'close' already past: the signal is then aborted at once.
 */
export function clientGone(ctx: Context): AbortSignal {
  const gone = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) gone.abort();
  });
  if (ctx.req.socket.destroyed || ctx.res.destroyed) gone.abort();
  return gone.signal;
}
