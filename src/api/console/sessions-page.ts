import type Router from '@koa/router';
import type { Context } from 'koa';
import { html } from '../../domain/html.js';
import { SESSION_STATUSES } from '../../domain/status.js';
import type { SessionRow } from '../../persistence/rows.js';
import type { ApiContext } from '../api-context.js';
import { queryOf } from '../params.js';
import { listSessions } from '../routes/sessions.js';
import type { ConsoleUser } from './console-auth.js';
import { page, statusClass, when } from './layout.js';

/** The filters of the list, as the API's GET /sessions names them. */
const FILTERS = ['status', 'type', 'tag', 'name', 'created_after', 'created_before'] as const;

function filterForm(ctx: Context) {
  const v = (k: string) => queryOf(ctx, k) ?? '';
  const option = (value: string, current: string, label = value) =>
    html`<option value="${value}" ${value === current ? html` selected` : ''}>${label}</option>`;
  return html`<form method="get" action="/console/sessions" class="filters">
    <label
      >Status
      <select name="status">
        ${option('', v('status'), 'any')}${SESSION_STATUSES.map((s) => option(s, v('status')))}
      </select></label
    >
    <label
      >Type
      <select name="type">
        ${option('', v('type'), 'any')}${option('batch', v('type'))}${option('interactive', v('type'))}
      </select></label
    >
    <label>Tag <input name="tag" value="${v('tag')}" /></label>
    <label>Name <input name="name" value="${v('name')}" placeholder="exact name" /></label>
    <label
      >Created after (UTC) <input name="created_after" type="datetime-local" value="${v('created_after')}"
    /></label>
    <label
      >Created before (UTC) <input name="created_before" type="datetime-local" value="${v('created_before')}"
    /></label>
    <button type="submit">Filter</button> <a href="/console/sessions">Clear</a>
  </form>`;
}

function row(s: SessionRow) {
  return html`<tr data-row-of="${s.id}" class="res-${s.result}">
    <td><a href="/console/sessions/${s.id}" class="session-name">${s.name}</a></td>
    <td><span data-status-of="${s.id}" class="${statusClass(s.status, s.result)}">${s.status}</span></td>
    <td data-reason-of="${s.id}">${s.status_info ?? ''}</td>
    <td data-exit-of="${s.id}">${s.exit_code ?? '-'}</td>
    <td>${s.type}</td>
    <td>${s.tag ?? ''}</td>
    <td>${s.image}</td>
    <td>${when(s.created_at)}</td>
    <td>${when(s.terminated_at)}</td>
  </tr>`;
}

/** The list's filters as the form sent them. */
function filtersOf(ctx: Context): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of [...FILTERS, 'limit']) {
    const v = queryOf(ctx, k);
    if (v) q.set(k, v);
  }
  return q;
}

/** A link to another page of the same filtered list. */
function pageLink(filters: URLSearchParams, offset: number, label: string) {
  const q = new URLSearchParams(filters);
  q.set('offset', String(offset));
  return html`<a href="/console/sessions?${q.toString()}">${label}</a>`;
}

/** GET /console/sessions: the API's list (same filters, same rules), live through /console/events. */
export function sessionListRoutes(r: Router, api: ApiContext): void {
  r.get('/console/sessions', async (ctx) => {
    const user = ctx.state.console as ConsoleUser;
    // Read the horizon first: an event after it reaches the page through the stream's replay.
    await api.hub.caughtUp();
    const after = api.hub.horizon();
    // The user's own sessions (what the event stream follows): the API's all and owner_access_key stay out.
    const form = filterForm(ctx);
    const filters = filtersOf(ctx);
    const { all: _all, owner_access_key: _owner, ...own } = ctx.query;
    // The form's datetime-local fields carry no zone: they are UTC, as the page says.
    for (const k of ['created_after', 'created_before'])
      if (typeof own[k] === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(own[k])) own[k] += 'Z';
    ctx.query = own;
    const { rows, total, limit, offset } = await listSessions(api, ctx);
    const pager = html`<div class="pager">
      <span>${total === 0 ? 0 : offset + 1}–${offset + rows.length} of ${total}</span>
      ${offset > 0 ? pageLink(filters, Math.max(0, offset - limit), '← newer') : ''}
      ${offset + rows.length < total ? pageLink(filters, offset + limit, 'older →') : ''}
    </div>`;
    page(
      ctx,
      'Sessions',
      html`${form}${pager}
        <table id="sessions">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Reason</th>
              <th>Exit</th>
              <th>Type</th>
              <th>Tag</th>
              <th>Image</th>
              <th>Created</th>
              <th>Ended</th>
            </tr>
          </thead>
          <tbody>
            ${
              rows.length === 0
                ? html`<tr>
                    <td colspan="9">No sessions.</td>
                  </tr>`
                : rows.map(row)
            }
          </tbody>
        </table>`,
      { user, data: { 'events-after': String(after) } },
    );
  });
}
