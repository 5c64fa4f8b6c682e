import { createHash, createHmac } from 'node:crypto';

/** What Backend.AI's HMAC-SHA256 signature covers (see BACKENDAI-API.md, Signing). */
export interface SignInput {
  method: string;
  /** Raw path with query string, exactly as sent. */
  pathWithQuery: string;
  /** The Date (or X-BackendAI-Date) header value. */
  date: string;
  /** The Host header value, port included when sent. */
  host: string;
  /** Content-Type header value; the bare mimetype is signed. */
  contentType: string | undefined;
  apiVersion: string;
}

export const SIGN_METHOD = 'HMAC-SHA256';
const EMPTY_BODY_HASH = createHash('sha256').update('').digest('hex');

/** Bare lowercase mimetype; a missing Content-Type counts as application/octet-stream. */
export function bareMimetype(contentType: string | undefined): string {
  const bare = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return bare === '' ? 'application/octet-stream' : bare;
}

export function stringToSign(input: SignInput): string {
  return [
    input.method.toUpperCase(),
    input.pathWithQuery,
    input.date,
    `host:${input.host}`,
    `content-type:${bareMimetype(input.contentType)}`,
    `x-backendai-version:${input.apiVersion}`,
    EMPTY_BODY_HASH,
  ].join('\n');
}

/** YYYYMMDD in the date value's own timezone (an ISO value is read as written). */
export function signingDay(date: string): string {
  const iso = /^(\d{4})-(\d{2})-(\d{2})/.exec(date.trim());
  if (iso) return `${iso[1]}${iso[2]}${iso[3]}`;
  const d = new Date(date);
  return d.toISOString().slice(0, 10).replaceAll('-', '');
}

export function sign(secretKey: string, input: SignInput, hash = 'sha256'): string {
  const k1 = createHmac(hash, secretKey).update(signingDay(input.date)).digest();
  const k2 = createHmac(hash, k1).update(input.host).digest();
  return createHmac(hash, k2).update(stringToSign(input)).digest('hex');
}

export function authorizationHeader(accessKey: string, signature: string): string {
  return `BackendAI signMethod=${SIGN_METHOD}, credential=${accessKey}:${signature}`;
}

export interface ParsedAuthorization {
  signMethod: string;
  hash: string;
  accessKey: string;
  signature: string;
}

/** Parses `BackendAI signMethod=HMAC-SHA256, credential=AK:SIG` (also with the `Sorna` word). */
export function parseAuthorization(header: string): ParsedAuthorization | null {
  const m =
    /^(?:BackendAI|Sorna)\s+signMethod=HMAC-([A-Za-z0-9-]+)\s*,\s*credential=([^:\s]+):([0-9a-fA-F]+)\s*$/.exec(
      header.trim(),
    );
  if (!m) return null;
  return {
    signMethod: `HMAC-${m[1]}`,
    hash: (m[1] ?? '').toLowerCase().replace('-', ''),
    accessKey: m[2] ?? '',
    signature: (m[3] ?? '').toLowerCase(),
  };
}

/** Hash for webhook bodies: receivers verify `X-Bai-Signature: sha256=<hex>` with the keypair's webhook secret. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
