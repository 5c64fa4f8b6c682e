import type Router from '@koa/router';
import type { Context } from 'koa';
import { AuthFailed, InvalidAuthParams } from '../../domain/errors.js';
import { html } from '../../domain/html.js';
import {
  COOKIE,
  formOf,
  type ConsoleSessions,
  checkCsrf,
  requireUser,
  setSessionCookie,
} from './console-auth.js';
import { page } from './layout.js';

/** Where to go after the login: a console path only (never another site). */
function nextOf(value: string | null | undefined): string {
  return value && /^\/console(\/[^\s\\]*)?$/.test(value) && !value.startsWith('//')
    ? value
    : '/console/sessions';
}

function loginForm(ctx: Context, next: string, error?: string): void {
  page(
    ctx,
    'Log in',
    html`${error ? html`<p class="error" id="error">${error}</p>` : ''}
      <form method="post" action="/console/login" class="login">
        <input type="hidden" name="next" value="${next}" />
        <label>Access key <input name="access_key" autocomplete="username" /></label>
        <label>Secret key <input name="secret_key" type="password" autocomplete="current-password" /></label>
        <p>or</p>
        <label>Token <input name="token" type="password" autocomplete="off" /></label>
        <button type="submit">Log in</button>
      </form>`,
    { status: error ? 401 : 200 },
  );
}

/** GET/POST /console/login and POST /console/logout. */
export function loginRoutes(r: Router, sessions: ConsoleSessions): void {
  r.get('/console/login', (ctx) => {
    const n = ctx.query.next;
    loginForm(ctx, nextOf(Array.isArray(n) ? n[0] : n));
  });

  r.post('/console/login', async (ctx) => {
    const form = formOf(ctx);
    const next = nextOf(form.get('next'));
    try {
      const id = await sessions.login({
        accessKey: form.get('access_key')?.trim() || undefined,
        secretKey: form.get('secret_key') || undefined,
        token: form.get('token')?.trim() || undefined,
      });
      setSessionCookie(ctx, id);
      ctx.status = 303;
      ctx.redirect(next);
    } catch (err) {
      // Expected: wrong credentials; the form again with the reason (never which part was wrong).
      if (err instanceof AuthFailed || err instanceof InvalidAuthParams) loginForm(ctx, next, err.message);
      else throw err;
    }
  });

  r.post('/console/logout', requireUser(sessions), async (ctx) => {
    checkCsrf(ctx, formOf(ctx));
    await sessions.logout(ctx.cookies.get(COOKIE) ?? '');
    setSessionCookie(ctx, null);
    ctx.status = 303;
    ctx.redirect('/console/login');
  });
}
