import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidRequest } from '../../domain/errors.js';
import { html } from '../../domain/html.js';
import { truncationMarker } from '../../domain/output-tail.js';
import { isTerminal } from '../../domain/status.js';
import { timelineOf, type TimelineSegment } from '../../domain/timeline.js';
import type { KernelRow, SessionRow } from '../../persistence/rows.js';
import { readLogPage } from '../../queue/log-stream.js';
import type { ApiContext } from '../api-context.js';
import { queryOf } from '../params.js';
import { checkCsrf, formOf, type ConsoleUser } from './console-auth.js';
import { page, postButton, statusClass, when } from './layout.js';
import { scheduleOriginFact } from './schedule-views.js';

const PAGE_BYTES = 1024 * 1024;
const LIVE_BYTES = 64 * 1024 * 1024;

/** The session a console URL names, through its owner's eyes: another keypair's is a 404, as in the API. */
async function target(api: ApiContext, ctx: Context): Promise<SessionRow> {
  const user = ctx.state.console as ConsoleUser;
  const ref = ctx.params.id ?? '';
  if (ref.length > 256) throw new InvalidRequest('The session reference is longer than 256 characters.');
  return api.sessions.resolve(ref, await api.service.ownerOf(user.principal, undefined));
}

function mainKernel(kernels: KernelRow[]): KernelRow | undefined {
  return kernels.find((k) => k.cluster_role === 'main');
}

function timeline(segments: TimelineSegment[]) {
  if (segments.length === 0) return html`<p>No status events yet.</p>`;
  const rects = segments.map(
    (s) =>
      html`<rect
        class="st-${s.status}"
        x="${s.offsetPct}"
        y="0"
        width="${Math.max(s.widthPct, 0.5)}"
        height="10"
        ><title>${s.status}: ${when(new Date(s.start))} → ${when(new Date(s.end))}</title></rect
      >`,
  );
  const items = segments.map(
    (s) =>
      html`<li>
        <span class="${statusClass(s.status, null)}">${s.status}</span> ${when(new Date(s.start))}
        (${((s.end - s.start) / 1000).toFixed(1)} s)
      </li>`,
  );
  return html`<svg
      class="timeline"
      id="timeline"
      viewBox="0 0 100 10"
      preserveAspectRatio="none"
      role="img"
      aria-label="status timeline"
    >
      ${rects}
    </svg>
    <ul class="legend" id="timeline-legend">
      ${items}
    </ul>`;
}

async function logText(api: ApiContext, k: KernelRow): Promise<string> {
  if (k.logs !== null) return k.logs;
  const p = await readLogPage(api.redis, api.prefix, k.agent_id ?? '', k.id, '0', LIVE_BYTES);
  const truncated = (p.offset ?? 0) > 0 || p.more;
  return truncated ? truncationMarker(Buffer.byteLength(p.logs)) + p.logs : p.logs;
}

/** The session page, its log (incremental reads and a download) and its cancel button. */
export function sessionPageRoutes(r: Router, api: ApiContext): void {
  r.get('/console/sessions/:id', async (ctx) => {
    const user = ctx.state.console as ConsoleUser;
    await api.hub.caughtUp();
    const after = api.hub.horizon();
    const s = await target(api, ctx);
    const [kernels, depIds, events] = await Promise.all([
      api.sessions.kernels(s.id),
      api.queries.dependencies(s.id),
      api.events.backlog({
        accessKey: s.access_key,
        upTo: after,
        afterId: null,
        sessionId: s.id,
        limit: 10_000,
      }),
    ]);
    const deps = (
      await Promise.all(
        depIds.map(async (d) => ({ row: await api.sessions.get(d.id), condition: d.condition })),
      )
    ).flatMap((d) => (d.row ? [{ ...d.row, condition: d.condition }] : []));
    const segments = timelineOf(
      events
        .filter((e) => e.name.startsWith('session_'))
        .map((e) => ({ status: e.data.status, at: e.created_at })),
      new Date(),
    );
    const k = mainKernel(kernels);
    const ended = isTerminal(s.status);
    const log = !k
      ? html`<p>No kernel.</p>`
      : k.logs !== null
        ? html`<pre class="log" id="log">${k.logs}</pre>`
        : html`<pre class="log" id="log" data-live="1" data-src="/console/sessions/${s.id}/log"></pre>`;
    const base = `/console/sessions/${s.id}`;
    const body = html`<p>
        <span id="status" data-status-of="${s.id}" class="${statusClass(s.status, s.result)}"
          >${s.status}</span
        >
        ${ended ? '' : postButton(user, `${base}/cancel`, 'Cancel', 'danger')}
      </p>
      <dl class="facts">
        <dt>Name</dt>
        <dd id="session-name">${s.name}</dd>
        <dt>Id</dt>
        <dd>${s.id}</dd>
        <dt>Reason</dt>
        <dd id="reason" data-reason-of="${s.id}">${s.status_info ?? ''}</dd>
        <dt>Result</dt>
        <dd id="result">${s.result}</dd>
        <dt>Exit code</dt>
        <dd id="exit-code" data-exit-of="${s.id}">${s.exit_code ?? '-'}</dd>
        <dt>Type</dt>
        <dd>${s.type}</dd>
        <dt>Image</dt>
        <dd>${s.image}</dd>
        <dt>Command</dt>
        <dd><pre id="command">${s.startup_command ?? ''}</pre></dd>
        <dt>Tag</dt>
        <dd>${s.tag ?? ''}</dd>
        ${scheduleOriginFact(s.schedule_name, s.scheduled_for)}
        <dt>Agent</dt>
        <dd>${s.agent_id ?? '-'}</dd>
        <dt>Created</dt>
        <dd>${when(s.created_at)}</dd>
        <dt>Started</dt>
        <dd>${when(s.started_at)}</dd>
        <dt>Ended</dt>
        <dd>${when(s.terminated_at)}</dd>
        <dt>Dependencies</dt>
        <dd id="dependencies">
          ${
            deps.length === 0
              ? 'none'
              : html`<ul>
                  ${deps.map((d) => html`<li><a href="/console/sessions/${d.id}">${d.name}</a> <span data-status-of="${d.id}" class="${statusClass(d.status, d.result)}">${d.status}</span> (${d.condition})</li>`)}
                </ul>`
          }
        </dd>
      </dl>
      <h2>Timeline</h2>
      ${timeline(segments)}
      <h2>Log</h2>
      <p><a id="log-download" href="${base}/log.txt" download>Download the log</a></p>
      ${log}`;
    page(ctx, `Session ${s.name}`, body, {
      user,
      data: { 'events-after': String(after), 'session-id': s.id, 'reload-on-end': ended ? '0' : '1' },
    });
  });

  // The live tail: the chunks the agent copied after a cursor (the API's ?after= read).
  r.get('/console/sessions/:id/log', async (ctx) => {
    const s = await target(api, ctx);
    const k = mainKernel(await api.sessions.kernels(s.id));
    if (!k) throw new InvalidRequest('The session has no kernel.');
    const after = queryOf(ctx, 'after') ?? '0';
    if (after !== '0' && !/^\d+-\d+$/.test(after)) throw new InvalidRequest('after must be a cursor.');
    const p = await readLogPage(api.redis, api.prefix, k.agent_id ?? '', k.id, after, PAGE_BYTES);
    ctx.body = { logs: p.logs, cursor: p.cursor, more: p.more, ended: k.logs !== null };
  });

  r.get('/console/sessions/:id/log.txt', async (ctx) => {
    const s = await target(api, ctx);
    const k = mainKernel(await api.sessions.kernels(s.id));
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="${s.id}.log"`);
    ctx.body = k ? await logText(api, k) : '';
  });

  // Cancel: the API's DELETE /session/{ref} path (PENDING → CANCELLED, placed → TERMINATING → TERMINATED).
  r.post('/console/sessions/:id/cancel', async (ctx) => {
    checkCsrf(ctx, formOf(ctx));
    const s = await target(api, ctx);
    await api.service.destroy(s, false);
    ctx.status = 303;
    ctx.redirect(`/console/sessions/${s.id}`);
  });
}
