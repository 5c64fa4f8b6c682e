import type { Context } from 'koa';
import { html, type HtmlValue, type SafeHtml } from '../../domain/html.js';
import type { ConsoleUser } from './console-auth.js';

/**
 * What a console page may load: its own stylesheet and script, its own event stream and log
 * reads, nothing inline (no inline script or style attribute runs), no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The headers of every console answer. */
export function secureHeaders(ctx: Context): void {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Cache-Control', 'no-store');
}

export function isAdmin(user: ConsoleUser): boolean {
  return user.principal.role === 'admin' || user.principal.role === 'superadmin';
}

/** The hidden CSRF field of a form that changes something. */
export function csrfField(user: ConsoleUser): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${user.csrf}" />`;
}

/** A button alone in a POST form with the CSRF token (cancel, drain, logout). */
export function postButton(user: ConsoleUser, action: string, label: string, cls = ''): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">
    ${csrfField(user)}<button type="submit" class="${cls}">${label}</button>
  </form>`;
}

/** A whole page: `data` becomes data-* attributes of <body> for the script (event stream, log tail). */
export function page(
  ctx: Context,
  title: string,
  body: HtmlValue,
  opts: { user?: ConsoleUser; data?: Record<string, string>; status?: number } = {},
): void {
  const user = opts.user;
  const nav = user
    ? html`<nav>
        <a href="/console/sessions">Sessions</a>
        <a href="/console/schedules">Schedules</a
        >${isAdmin(user) ? html` <a href="/console/agents">Agents</a>` : ''}
        <span class="who">${user.principal.accessKey} (${user.principal.role})</span>
        ${postButton(user, '/console/logout', 'Log out', 'logout')}
      </nav>`
    : '';
  const data = Object.entries(opts.data ?? {}).map(([k, v]) => html` data-${k}="${v}"`);
  ctx.status = opts.status ?? 200;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · bai console</title><link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script></head>
<body${data}><header><strong>bai</strong> console ${nav}</header><main>
<h1>${title}</h1>
${body}
</main></body></html>`.text;
}

/** The page of an error: its status and message, escaped. */
export function errorPage(
  ctx: Context,
  status: number,
  title: string,
  message: string,
  user?: ConsoleUser,
): void {
  page(
    ctx,
    title,
    html`<p class="error" id="error">${message}</p>
      <p><a href="/console/sessions">Back to the sessions</a></p>`,
    {
      user,
      status,
    },
  );
}

/** A time as ISO-8601 without milliseconds (UTC), or a dash. */
export function when(d: Date | string | null | undefined): string {
  if (!d) return '-';
  const t = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(t.getTime()) ? '-' : t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The class that colours a status and result: `st-RUNNING res-SUCCESS`. */
export function statusClass(status: string, result: string | null | undefined): string {
  return `status st-${status} res-${result ?? 'UNDEFINED'}`;
}
