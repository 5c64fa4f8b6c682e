import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { Forbidden, ScheduleNotFound } from '../../domain/errors.js';
import { parseScheduleCreate } from '../../domain/schedule-spec.js';
import type { ScheduleRow, ScheduleScope } from '../../persistence/schedule-store.js';
import type { ApiContext } from '../api-context.js';
import { requestScopeOf } from '../request-context.js';
import type { Principal } from '../auth.js';
import { bodyOf, queryFlag, queryOf } from '../params.js';
import { firstInstant, patchSchedule } from '../schedule-patch.js';
import { nextInstantsView, runView, scheduleView } from '../schedule-view.js';

function principal(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

const ownerParam = (ctx: Context) => queryOf(ctx, 'owner_access_key') ?? queryOf(ctx, 'ownerAccessKey');

/**
 * Schedules (docs/schedules.md): cron instants that create sessions. Owned like sessions: a
 * keypair's own by default, another keypair's with owner_access_key (admins within their
 * domain, superadmins anywhere); a schedule one may not see is 404 schedule-not-found.
 */
export function scheduleRoutes(api: ApiContext): Router {
  const r = new Router();

  /** The schedule the path names, of the keypair the request acts for. */
  const target = async (ctx: Context): Promise<ScheduleRow> => {
    const owner = await api.service.ownerOf(principal(ctx), ownerParam(ctx));
    const name = ctx.params.name ?? '';
    const s = name.length <= 64 ? await api.schedules.get(owner, name) : undefined;
    if (!s) throw new ScheduleNotFound(name);
    return s;
  };

  const viewOf = async (s: ScheduleRow) => scheduleView(s, (await api.schedules.lastRuns([s.id])).get(s.id));

  r.post('/schedules', async (ctx) => {
    const now = new Date();
    const spec = parseScheduleCreate(bodyOf(ctx), now);
    const owner = await api.service.ownerKeypair(principal(ctx), ownerParam(ctx));
    // A template must be one the owner may use now (its body is read again at each instant).
    if (spec.template)
      await api.scheduleFiring.createBody({ session_body: null, template: spec.template }, owner);
    const s = await api.schedules.create(spec, owner, randomUUID(), firstInstant(spec, now));
    api.schedulesChanged(s.next_run_at);
    ctx.status = 201;
    ctx.body = await viewOf(s);
  });

  r.get('/schedules', async (ctx) => {
    const p = principal(ctx);
    let scope: ScheduleScope;
    if (queryFlag(ctx, 'all')) {
      if (p.role === 'user') throw new Forbidden('all=true is for administrators.');
      scope = p.role === 'superadmin' ? {} : { domain: p.domain };
    } else scope = { accessKey: await api.service.ownerOf(p, ownerParam(ctx)) };
    const rows = await api.schedules.list(scope);
    const last = await api.schedules.lastRuns(rows.map((s) => s.id));
    ctx.body = { items: rows.map((s) => scheduleView(s, last.get(s.id))) };
  });

  r.get('/schedules/:name', async (ctx) => {
    const s = await target(ctx);
    const runs = await api.schedules.runs(s.id, 20);
    ctx.body = {
      ...scheduleView(s, runs[0]),
      nextInstants: nextInstantsView(s, new Date()),
      runs: runs.map(runView),
    };
  });

  r.patch('/schedules/:name', async (ctx) => {
    const s = await target(ctx);
    ctx.body = await viewOf(await patchSchedule(api, s, bodyOf(ctx), principal(ctx)));
  });

  r.delete('/schedules/:name', async (ctx) => {
    const s = await target(ctx);
    if (!(await api.schedules.delete(s.id))) throw new ScheduleNotFound(s.name);
    ctx.status = 204;
  });

  r.post('/schedules/:name/trigger', async (ctx) => {
    const s = await target(ctx);
    const session = await api.scheduleFiring.trigger(s, requestScopeOf(ctx)?.requestId ?? null);
    ctx.status = 201;
    ctx.body = {
      sessionId: session.id,
      sessionName: session.name,
      scheduledFor: session.scheduled_for?.toISOString() ?? null,
    };
  });

  return r;
}
