import type Router from '@koa/router';
import type { Context } from 'koa';
import { ScheduleNotFound } from '../../domain/errors.js';
import { html } from '../../domain/html.js';
import type { ScheduleWire } from '../../domain/schedule-wire.js';
import type { ScheduleRow } from '../../persistence/schedule-store.js';
import type { ApiContext } from '../api-context.js';
import { requestScopeOf } from '../request-context.js';
import { patchSchedule } from '../schedule-patch.js';
import { nextInstantsView, runView, scheduleView } from '../schedule-view.js';
import { checkCsrf, formOf, type ConsoleUser } from './console-auth.js';
import { page } from './layout.js';
import { scheduleDetail, schedulePageUrl, scheduleTable } from './schedule-views.js';

/** The schedule a console URL names, of the user's own keypair: another keypair's is a 404, as in the API. */
async function target(api: ApiContext, ctx: Context): Promise<ScheduleRow> {
  const user = ctx.state.console as ConsoleUser;
  const owner = await api.service.ownerOf(user.principal, undefined);
  const name = ctx.params.name ?? '';
  const s = name.length <= 64 ? await api.schedules.get(owner, name) : undefined;
  if (!s) throw new ScheduleNotFound(name);
  return s;
}

/**
 * The schedules pages: what the API's GET /schedules and GET /schedules/{name} show (the same
 * view functions), for the user's own keypair; suspend/resume and trigger are the API's PATCH
 * {suspend} and POST …/trigger, behind the CSRF token.
 */
export function scheduleRoutes(r: Router, api: ApiContext): void {
  r.get('/console/schedules', async (ctx) => {
    const user = ctx.state.console as ConsoleUser;
    await api.hub.caughtUp();
    const after = api.hub.horizon();
    const owner = await api.service.ownerOf(user.principal, undefined);
    const rows = await api.schedules.list({ accessKey: owner });
    const last = await api.schedules.lastRuns(rows.map((s) => s.id));
    const items = rows.map((s) => scheduleView(s, last.get(s.id)) as ScheduleWire);
    page(ctx, 'Schedules', scheduleTable(items), { user, data: { 'events-after': String(after) } });
  });

  r.get('/console/schedules/:name', async (ctx) => {
    const user = ctx.state.console as ConsoleUser;
    await api.hub.caughtUp();
    const after = api.hub.horizon();
    const s = await target(api, ctx);
    const runs = await api.schedules.runs(s.id, 20);
    const view: ScheduleWire = {
      ...(scheduleView(s, runs[0]) as ScheduleWire),
      nextInstants: nextInstantsView(s, new Date()),
      runs: runs.map(runView),
    };
    page(ctx, `Schedule ${s.name}`, html`${scheduleDetail(view, user)}`, {
      user,
      data: { 'events-after': String(after) },
    });
  });

  // Suspend and resume: PATCH /schedules/{name} {suspend}; a resume fires from the next instant on.
  const setSuspended = (suspend: boolean) => async (ctx: Context) => {
    checkCsrf(ctx, formOf(ctx));
    const s = await target(api, ctx);
    if (s.suspend !== suspend)
      await patchSchedule(api, s, { suspend }, (ctx.state.console as ConsoleUser).principal);
    ctx.status = 303;
    ctx.redirect(schedulePageUrl(s.name));
  };
  r.post('/console/schedules/:name/suspend', setSuspended(true));
  r.post('/console/schedules/:name/resume', setSuspended(false));

  // Run now: POST /schedules/{name}/trigger; the new run heads the page's runs table.
  r.post('/console/schedules/:name/trigger', async (ctx) => {
    checkCsrf(ctx, formOf(ctx));
    const s = await target(api, ctx);
    await api.scheduleFiring.trigger(s, requestScopeOf(ctx)?.requestId ?? null);
    ctx.status = 303;
    ctx.redirect(schedulePageUrl(s.name));
  });
}
