import { InvalidRequest } from './errors.js';
import { requirePrintable } from './printable.js';

/** Reading fields of a JSON request body (create bodies, templates, mounts): shapes checked, 400s naming the field. */
export type Body = Record<string, unknown>;

/** An environment variable's name. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID in its dashed form (folder ids, template ids), any case. */
export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function isObj(v: unknown): v is Body {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first of the given keys that is present and not null. */
export function pick(o: Body, ...keys: readonly string[]): unknown {
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/** An object field; undefined when absent. */
export function obj(v: unknown, field: string): Body | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new InvalidRequest(`${field} must be an object.`);
  return v;
}

/** A list of non-empty printable strings (a copy); [] when absent. */
export function stringList(v: unknown, field: string, max = 64): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === ''))
    throw new InvalidRequest(`${field} must be a list of non-empty strings.`);
  if (v.length > max) throw new InvalidRequest(`${field} has more than ${max} entries.`);
  return (v as string[]).map((x) => requirePrintable(x, field));
}
