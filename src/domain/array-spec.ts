import { isObj, pick } from './body-fields.js';
import { InvalidRequest, QuotaExceeded } from './errors.js';
import type { SessionResult, SessionStatus } from './status.js';

/**
 * Array jobs (Slurm's `--array`, AWS Batch's array jobs): one request creates a parent session
 * and `size` children, child i running with BAI_ARRAY_INDEX=i and BAI_ARRAY_SIZE=size. The
 * parent is never placed; its status and result follow its children.
 */
export interface ArraySpec {
  /** The first index (BAI_ARRAY_INDEX of the first child). */
  start: number;
  /** How many children: indices start … start + size - 1. */
  size: number;
  /** Most children placed at once; null: unlimited (bounded by capacity). */
  parallelism: number | null;
}

/** status_info of children cancelled because their array was cancelled or ended. */
export const ARRAY_CANCELLED = 'array-cancelled';

/** The most children one array may have. */
export const MAX_ARRAY_SIZE = 10_000;
/** The highest index a child may have. */
export const MAX_ARRAY_INDEX = 999_999;

const RANGE_RE = /^(\d{1,7})-(\d{1,7})(?:%(\d{1,7}))?$/;

function bounded(n: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidRequest(`array: ${what} must be an integer from ${min} to ${max}.`);
  return n;
}

function checked(start: number, size: number, parallelism: number | null): ArraySpec {
  bounded(start, 'the first index', 0, MAX_ARRAY_INDEX);
  bounded(size, 'the size', 1, MAX_ARRAY_SIZE);
  if (start + size - 1 > MAX_ARRAY_INDEX)
    throw new InvalidRequest(`array: the last index must be at most ${MAX_ARRAY_INDEX}.`);
  if (parallelism !== null) bounded(parallelism, 'the parallelism', 1, MAX_ARRAY_SIZE);
  return { start, size, parallelism };
}

/** A count field of the object form (a number or a string of digits). */
function count(v: unknown, what: string): number {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number') throw new InvalidRequest(`array: ${what} must be an integer.`);
  return n;
}

/**
 * The `array` field of a create body (null when absent): `"A-B"` (indices A to B, both
 * included), `"A-B%P"` (at most P children at once), or `{size, parallelism?, start?}`.
 * Throws InvalidRequest saying what is wrong.
 */
export function parseArraySpec(v: unknown): ArraySpec | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') {
    const m = RANGE_RE.exec(v.trim());
    if (!m)
      throw new InvalidRequest('array must be "A-B" or "A-B%P" (e.g. "0-99%10"), or {size, parallelism}.');
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (b < a) throw new InvalidRequest(`array: the last index (${b}) is below the first (${a}).`);
    return checked(a, b - a + 1, m[3] === undefined ? null : Number(m[3]));
  }
  if (isObj(v)) {
    for (const k of Object.keys(v))
      if (!['size', 'parallelism', 'start'].includes(k))
        throw new InvalidRequest(`array: unknown field "${k}"; use size, parallelism and start.`);
    const size = pick(v, 'size');
    if (size === undefined) throw new InvalidRequest('array.size is required.');
    const par = pick(v, 'parallelism');
    const start = pick(v, 'start');
    return checked(
      start === undefined ? 0 : count(start, 'the first index'),
      count(size, 'the size'),
      par === undefined ? null : count(par, 'the parallelism'),
    );
  }
  throw new InvalidRequest('array must be a string such as "0-99%10" or an object {size, parallelism}.');
}

/** The spec as the `A-B` / `A-B%P` grammar writes it. */
export function formatArraySpec(s: ArraySpec): string {
  const range = `${s.start}-${s.start + s.size - 1}`;
  return s.parallelism === null ? range : `${range}%${s.parallelism}`;
}

/** A child's name: `<parent name>-<index>`. */
export function arrayChildName(parent: string, index: number): string {
  return `${parent}-${index}`;
}

/** The session-name limit holds for every child's name, or a 400 says by how much it does not. */
export function checkChildNames(parent: string, spec: ArraySpec, maxLength = 64): void {
  const longest = arrayChildName(parent, spec.start + spec.size - 1);
  if (longest.length > maxLength)
    throw new InvalidRequest(
      `array: the children are named "<name>-<index>" and "${longest}" is longer than ${maxLength} characters; use a shorter name.`,
    );
}

/** The variables a child runs with (over the request's own environ). */
export function arrayEnviron(index: number, size: number): Record<string, string> {
  return { BAI_ARRAY_INDEX: String(index), BAI_ARRAY_SIZE: String(size) };
}

/** Every child is a PENDING session, and the parent one more: all must fit the pending limit. */
export function checkArrayPendingLimit(max: number | null, pending: number, spec: ArraySpec): void {
  if (max !== null && pending + spec.size + 1 > max)
    throw new QuotaExceeded(
      `An array of ${spec.size} children (and its parent) would take this keypair past its limit of ${max} pending sessions (${pending} now).`,
    );
}

/** What the parent needs to know of its children to follow them. */
export interface ArrayChildrenState {
  /** Children not ended yet (not TERMINATED or CANCELLED); the settle step reads 1 for any. */
  open: number;
  /** Some child has run (RUNNING is in its history). */
  ran: boolean;
  /** The failed child (result other than SUCCESS) of the lowest index, if any. */
  firstFailed: { index: number; exitCode: number | null } | null;
}

export type ParentMove =
  { to: 'RUNNING' } | { to: 'TERMINATED'; result: SessionResult; exitCode: number | null } | null;

/**
 * The parent's result once every child ended: SUCCESS when every child succeeded, else FAILURE
 * with the exit code of the failed child of the lowest index (null when that child has none,
 * e.g. it was cancelled before it ran).
 */
export function arrayOutcome(firstFailed: ArrayChildrenState['firstFailed']): {
  result: SessionResult;
  exitCode: number | null;
} {
  if (!firstFailed) return { result: 'SUCCESS', exitCode: 0 };
  return { result: 'FAILURE', exitCode: firstFailed.exitCode };
}

/**
 * Where a parent goes from `status` given its children: TERMINATED when all ended (from
 * PENDING, RUNNING or TERMINATING), RUNNING once a child ran (from PENDING), else nowhere.
 */
export function parentMove(status: SessionStatus, c: ArrayChildrenState): ParentMove {
  if (!['PENDING', 'RUNNING', 'TERMINATING'].includes(status)) return null;
  if (c.open === 0) return { to: 'TERMINATED', ...arrayOutcome(c.firstFailed) };
  if (status === 'PENDING' && c.ran) return { to: 'RUNNING' };
  return null;
}
