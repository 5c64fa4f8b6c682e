import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { refusalOf, type CallbackAllowList } from '../../domain/callback-address.js';

/** What became of one POST to a callback URL. */
export type CallbackResult =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'http-error'; status: number; error: string }
  | { outcome: 'redirected'; status: number; error: string }
  | { outcome: 'refused'; error: string }
  | { outcome: 'error'; error: string };

/**
 * POSTs a callback body, from inside the service's network, only where it may go. The host is
 * resolved here (every address dns.lookup gives) and each address is checked against the
 * rules of src/domain/callback-address.ts; the connection then goes to the checked address
 * (the socket's lookup answers with it), so a name that resolves elsewhere a moment later
 * changes nothing. Redirects are never followed; the whole exchange has one short deadline.
 */
export async function postCallback(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  allow: CallbackAllowList,
  timeoutMs: number,
): Promise<CallbackResult> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    // Not a URL at all: refused like any destination it may not reach (the outcome says why).
    return { outcome: 'refused', error: 'not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { outcome: 'refused', error: `scheme ${url.protocol} is not http(s)` };
  if (url.username || url.password) return { outcome: 'refused', error: 'credentials in the URL' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host)
      ? [{ address: host, family: isIP(host) }]
      : await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    return { outcome: 'error', error: `cannot resolve ${host}: ${(err as Error).message}` };
  }
  if (addresses.length === 0) return { outcome: 'error', error: `${host} has no address` };
  for (const a of addresses) {
    const why = refusalOf(host, port, a.address, allow);
    if (why !== null) return { outcome: 'refused', error: `${url.host}: ${why}` };
  }
  const pinned = addresses[0]!;
  const pinnedLookup: LookupFunction = (_hostname, options, callback) => {
    const cb = callback as (...args: unknown[]) => void;
    if ((options as { all?: boolean }).all) cb(null, [{ address: pinned.address, family: pinned.family }]);
    else cb(null, pinned.address, pinned.family);
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<CallbackResult>((resolve) => {
    const req = send(
      {
        protocol: url.protocol,
        host: isIP(host) ? host : url.hostname,
        port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        lookup: pinnedLookup,
        ...(url.protocol === 'https:' && !isIP(host) ? { servername: host } : {}),
        signal: AbortSignal.timeout(timeoutMs),
        agent: false,
      },
      (res: IncomingMessage) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve({ outcome: 'delivered', status });
        else if (status >= 300 && status < 400)
          resolve({
            outcome: 'redirected',
            status,
            error: `HTTP ${status} redirect not followed${res.headers.location ? ` (to ${String(res.headers.location).slice(0, 200)})` : ''}`,
          });
        else resolve({ outcome: 'http-error', status, error: `HTTP ${status}` });
      },
    );
    req.on('error', (err) => resolve({ outcome: 'error', error: err.message }));
    req.end(body);
  });
}
