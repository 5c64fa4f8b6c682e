import { createHash } from 'node:crypto';
import { isObj, pick } from './body-fields.js';
import { IdempotencyKeyConflict, InvalidRequest } from './errors.js';
import { firstUnprintable } from './printable.js';

/**
 * Idempotency keys of `POST /session`: a client names its create request with a key (the
 * `Idempotency-Key` header, or the `idempotencyKey` body field for clients that cannot set
 * headers), and every request of its keypair with that key, within the retention, answers the
 * session the first one created — whatever became of it — instead of creating another.
 */

/** The request header (HTTP header names are case-insensitive; Node gives them lower-cased). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** The body fields for clients that cannot set headers (both spellings, as every create field). */
export const IDEMPOTENCY_FIELDS = ['idempotencyKey', 'idempotency_key'] as const;
export const IDEMPOTENCY_KEY_MAX = 255;
/** How long a key is remembered unless BAI_IDEMPOTENCY_RETENTION_SECONDS says otherwise: 7 days. */
export const DEFAULT_IDEMPOTENCY_RETENTION_SECONDS = 7 * 24 * 3600;

/** A create request's key with the hash of the request it names. */
export interface IdempotentRequest {
  key: string;
  requestHash: string;
}

/** Checks one key: a non-blank string of printable characters, at most 255 of them. */
export function checkIdempotencyKey(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new InvalidRequest(`${field} must be a string.`, { data: { field } });
  if (v.trim() === '') throw new InvalidRequest(`${field} must not be empty.`, { data: { field } });
  if (v.length > IDEMPOTENCY_KEY_MAX)
    throw new InvalidRequest(`${field} is longer than ${IDEMPOTENCY_KEY_MAX} characters.`, {
      data: { field },
    });
  const bad = firstUnprintable(v);
  if (bad)
    throw new InvalidRequest(`${field} must be printable text (${bad.codePoint} at position ${bad.index}).`, {
      data: { field },
    });
  return v;
}

/**
 * The key of a create request, from its header and/or its body (null: neither). Both given and
 * different is a 400: the request cannot say which it means.
 */
export function idempotencyKeyOf(body: unknown, header: string | undefined): string | null {
  const fromHeader = header === undefined ? null : checkIdempotencyKey(header, 'Idempotency-Key');
  const raw = isObj(body) ? pick(body, ...IDEMPOTENCY_FIELDS) : undefined;
  const fromBody = raw === undefined ? null : checkIdempotencyKey(raw, 'idempotencyKey');
  if (fromHeader !== null && fromBody !== null && fromHeader !== fromBody)
    throw new InvalidRequest(
      'The Idempotency-Key header and the idempotencyKey field differ: give one key.',
      {
        data: { field: 'idempotencyKey' },
      },
    );
  return fromHeader ?? fromBody;
}

/**
 * The canonical form of a JSON value: object members sorted by name, members whose value is
 * null left out (a create body's null means "not given"), arrays in their order. So the same
 * request sent again compares equal whatever its key order and whitespace; another spelling of
 * a field (camelCase / snake_case) is another request.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(',')}]`;
  if (isObj(v)) {
    const members = Object.keys(v)
      .filter((k) => v[k] !== null && v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The hash a repeated request is compared by: sha256 of the canonical body without its key fields. */
export function requestHashOf(body: unknown): string {
  const rest: Record<string, unknown> = isObj(body) ? { ...body } : { body };
  for (const f of IDEMPOTENCY_FIELDS) delete rest[f];
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** The idempotency part of a create request; null when it names no key. */
export function idempotentRequestOf(body: unknown, header: string | undefined): IdempotentRequest | null {
  const key = idempotencyKeyOf(body, header);
  return key === null ? null : { key, requestHash: requestHashOf(body) };
}

/** A key found again: the same request answers its session; another one is a 422. */
export function checkSameRequest(
  req: IdempotentRequest,
  stored: { request_hash: string; session_id: string },
): string {
  if (stored.request_hash !== req.requestHash) throw new IdempotencyKeyConflict(req.key, stored.session_id);
  return stored.session_id;
}
