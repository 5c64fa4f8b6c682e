import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Context, Next } from 'koa';
import { AuthFailed, Forbidden } from '../../domain/errors.js';
import { hashToken, type Authenticator, type Principal } from '../auth.js';

export const COOKIE = 'bai_console';
/** A console session lasts this long from its login (then the login form again). */
export const SESSION_SECONDS = 8 * 3600;

/** What Redis keeps for a console session: who, proven how, and its CSRF token. Never a secret. */
interface StoredSession {
  accessKey: string;
  via: 'keypair' | 'token';
  /** SHA-256 of the secret key or of the token: checked again on every request. */
  credentialHash: string;
  csrf: string;
}

/** The console session of a request, once its cookie was checked. */
export interface ConsoleUser {
  principal: Principal;
  csrf: string;
}

/**
 * Console sessions: an opaque random id in an HttpOnly, SameSite=Strict cookie; Redis keeps,
 * under the SHA-256 of that id, the keypair it stands for and the session's CSRF token, and
 * expires it after SESSION_SECONDS. Redis rather than the manager's memory: every manager
 * behind one address knows the session, and a manager restart keeps it. Losing Redis's data
 * only logs users out. Each request checks the keypair (or token) again with the API's own
 * checks, so a deactivated keypair, a new secret key or a revoked token ends the session at once.
 */
export class ConsoleSessions {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly auth: Authenticator,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:console-session:${hashToken(id)}`;
  }

  /** Logs in: checks the credentials as the API would, and returns the new session's id. */
  async login(form: { accessKey?: string; secretKey?: string; token?: string }): Promise<string> {
    let stored: Omit<StoredSession, 'csrf'>;
    if (form.token) {
      if (form.token.length > 512) throw new AuthFailed('Malformed bearer token.');
      const credentialHash = hashToken(form.token);
      const p = await this.auth.tokenPrincipal(credentialHash);
      stored = { accessKey: p.accessKey, via: 'token', credentialHash };
    } else {
      if (!form.accessKey || !form.secretKey || form.secretKey.length > 512)
        throw new AuthFailed('Give an access key and its secret key, or a token.');
      const credentialHash = hashToken(form.secretKey);
      const p = await this.auth.keypairPrincipal(form.accessKey, credentialHash);
      stored = { accessKey: p.accessKey, via: 'keypair', credentialHash };
    }
    const id = randomBytes(32).toString('base64url');
    const session: StoredSession = { ...stored, csrf: randomBytes(32).toString('base64url') };
    await this.redis.set(this.key(id), JSON.stringify(session), 'EX', SESSION_SECONDS);
    return id;
  }

  /** The user of a session id, checked again; null when it expired or its keypair no longer logs in. */
  async user(id: string): Promise<ConsoleUser | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    const text = await this.redis.get(this.key(id));
    if (!text) return null;
    const s = JSON.parse(text) as StoredSession;
    try {
      const principal =
        s.via === 'token'
          ? await this.auth.tokenPrincipal(s.credentialHash)
          : await this.auth.keypairPrincipal(s.accessKey, s.credentialHash);
      if (principal.accessKey !== s.accessKey) return null;
      return { principal, csrf: s.csrf };
    } catch (err) {
      // Expected: the keypair was deactivated, its secret changed or the token was revoked.
      if (err instanceof AuthFailed) {
        await this.logout(id);
        return null;
      }
      throw err;
    }
  }

  async logout(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, only for /console, Secure over TLS. */
export function setSessionCookie(ctx: Context, id: string | null): void {
  ctx.cookies.set(COOKIE, id ?? '', {
    httpOnly: true,
    sameSite: 'strict',
    path: '/console',
    secure: ctx.secure,
    overwrite: true,
    maxAge: id === null ? 0 : SESSION_SECONDS * 1000,
  });
}

/**
 * Loads the console user into `ctx.state.console` (and the API's `ctx.state.principal`, so the
 * API's own list rules apply); without one, pages redirect to the login form and other
 * requests (the event stream, log reads) answer 401.
 */
export function requireUser(sessions: ConsoleSessions) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const id = ctx.cookies.get(COOKIE) ?? '';
    const user = id ? await sessions.user(id) : null;
    if (!user) {
      if (ctx.method === 'GET' && ctx.accepts('html') && !ctx.path.endsWith('.json')) {
        ctx.redirect(`/console/login?next=${encodeURIComponent(ctx.originalUrl)}`);
        return;
      }
      throw new AuthFailed('Log in to the console first.');
    }
    ctx.state.console = user;
    ctx.state.principal = user.principal;
    return next();
  };
}

/** Refuses (403) a POST whose `_csrf` field is missing or is not the session's token. */
export function checkCsrf(ctx: Context, form: URLSearchParams): void {
  const user = ctx.state.console as ConsoleUser;
  const a = Buffer.from(form.get('_csrf') ?? '');
  const b = Buffer.from(user.csrf);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new Forbidden('The form is stale or did not come from the console (CSRF token mismatch).');
}

/** A POSTed form (application/x-www-form-urlencoded), as the body middleware kept it. */
export function formOf(ctx: Context): URLSearchParams {
  return new URLSearchParams(typeof ctx.state.rawBody === 'string' ? ctx.state.rawBody : '');
}
