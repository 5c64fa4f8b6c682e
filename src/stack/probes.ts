import { request } from 'node:http';
import { connect } from 'node:net';

/**
 * Asking a part whether it answers, each in its own protocol, within `timeoutMs`. A process
 * that runs but does not answer is not up.
 */

/** Redis answers PING (an authentication error is an answer too: it is Redis that replied). */
export function redisAnswers(url: string, timeoutMs = 3_000): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Expected: not a URL, so not a Redis that answers.
    return Promise.resolve(false);
  }
  if (u.protocol !== 'redis:') return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = connect(Number(u.port || 6379), u.hostname || '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (b) => {
      reply += b.toString('utf8');
      if (reply.includes('\r\n')) done(/^(\+PONG|-NOAUTH|-WRONGPASS)/.test(reply));
    });
    s.once('error', () => done(false));
    s.once('close', () => done(false));
  });
}

/** A Docker engine answers GET /_ping with OK, on its unix socket or TCP address. */
export function dockerAnswers(host: string, timeoutMs = 5_000): Promise<boolean> {
  const target: { socketPath?: string; host?: string; port?: number } = {};
  if (host.startsWith('unix://')) target.socketPath = host.slice('unix://'.length);
  else if (host.startsWith('tcp://')) {
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    target.host = u.hostname;
    target.port = Number(u.port || 2375);
  } else return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString('utf8')));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** The manager answers GET / with its version. */
export async function managerAnswers(endpoint: string, timeoutMs = 5_000): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as { manager?: unknown };
    return res.ok && typeof body.manager === 'string';
  } catch {
    // Expected: refused, timed out or not JSON: no manager answers there.
    return false;
  }
}
