import type Router from '@koa/router';
import { html } from '../../domain/html.js';
import type { AgentView } from '../../persistence/infra-store.js';
import { requireAdmin, requireSuperadmin } from '../access.js';
import type { ApiContext } from '../api-context.js';
import { checkCsrf, formOf, type ConsoleUser } from './console-auth.js';
import { page, postButton, when } from './layout.js';

/** An amount of a slot as people read it: memory in GiB, the rest as is. */
function amount(slot: string, v: number): string {
  if (slot === 'mem') return `${(v / 1024 ** 3).toFixed(1)} GiB`;
  return String(Math.round(v * 100) / 100);
}

function slotBars(a: AgentView) {
  return Object.entries(a.available_slots).map(([slot, cap]) => {
    const used = a.occupied_slots[slot] ?? 0;
    return html`<div class="slot" data-slot="${slot}">
      ${slot}: <meter min="0" max="${cap}" value="${used}" title="${slot}"></meter> ${amount(slot, used)} /
      ${amount(slot, cap)}
    </div>`;
  });
}

/**
 * GET /console/agents: the API's GET /agents (admins only), capacity and use per slot as bars.
 * Drain and undrain are the API's PATCH /agents/{id} {schedulable}: superadmins only, so only
 * they see the buttons, and the POSTs check it again.
 */
export function agentRoutes(r: Router, api: ApiContext): void {
  r.get('/console/agents', async (ctx) => {
    const user = ctx.state.console as ConsoleUser;
    requireAdmin(user.principal);
    const agents = await api.infra.agents();
    const mayDrain = user.principal.role === 'superadmin';
    const rows = agents.map(
      (a) =>
        html`<tr data-agent="${a.id}">
          <td>${a.id}</td>
          <td>${a.scaling_group}</td>
          <td class="agent-status">${a.status}${a.status_info ? html` (${a.status_info})` : ''}</td>
          <td class="schedulable">${a.schedulable ? 'schedulable' : 'drained'}</td>
          <td>${slotBars(a)}</td>
          <td>${a.running_kernels}</td>
          <td>${when(a.last_heartbeat)}</td>
          <td>
            ${
              mayDrain
                ? a.schedulable
                  ? postButton(user, `/console/agents/${encodeURIComponent(a.id)}/drain`, 'Drain', 'drain')
                  : postButton(
                      user,
                      `/console/agents/${encodeURIComponent(a.id)}/undrain`,
                      'Undrain',
                      'undrain',
                    )
                : ''
            }
          </td>
        </tr>`,
    );
    page(
      ctx,
      'Agents',
      html`<table id="agents">
        <thead>
          <tr>
            <th>Agent</th>
            <th>Scaling group</th>
            <th>Status</th>
            <th>Scheduling</th>
            <th>Slots (used / capacity)</th>
            <th>Kernels</th>
            <th>Last heartbeat</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length === 0
              ? html`<tr>
                  <td colspan="8">No agents.</td>
                </tr>`
              : rows
          }
        </tbody>
      </table>`,
      { user },
    );
  });

  const setSchedulable = (schedulable: boolean) => async (ctx: import('koa').Context) => {
    const user = ctx.state.console as ConsoleUser;
    checkCsrf(ctx, formOf(ctx));
    requireSuperadmin(user.principal);
    await api.infra.setSchedulable(ctx.params.id ?? '', schedulable);
    ctx.status = 303;
    ctx.redirect('/console/agents');
  };
  r.post('/console/agents/:id/drain', setSchedulable(false));
  r.post('/console/agents/:id/undrain', setSchedulable(true));
}
