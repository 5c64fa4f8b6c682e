import { html, type SafeHtml } from '../../domain/html.js';
import {
  instantText,
  runResultText,
  type ScheduleRunWire,
  type ScheduleWire,
} from '../../domain/schedule-wire.js';
import type { ConsoleUser } from './console-auth.js';
import { postButton, statusClass, when } from './layout.js';

/** The console URL of a schedule (by name: unique per keypair). */
export function schedulePageUrl(name: string, tail = ''): string {
  return `/console/schedules/${encodeURIComponent(name)}${tail}`;
}

/** A run's result, coloured like a session's, with its status for the live updates when it has a session. */
function runResult(run: ScheduleRunWire | null) {
  if (!run) return html`<span class="muted">none yet</span>`;
  const text = runResultText(run);
  if (!run.sessionId || !run.status) return html`<span class="outcome-${run.outcome}">${text}</span>`;
  return html`<span data-status-of="${run.sessionId}" class="${statusClass(run.status, run.result)}"
    >${text}</span
  >`;
}

/** The table of /console/schedules: one row a schedule. */
export function scheduleTable(items: ScheduleWire[]): SafeHtml {
  const rows = items.map(
    (s) =>
      html`<tr data-schedule="${s.name}" class="${s.suspend ? 'suspended' : 'active'}">
        <td><a href="${schedulePageUrl(s.name)}" class="schedule-name">${s.name}</a></td>
        <td><code>${s.cron}</code></td>
        <td>${s.timezone}</td>
        <td>${s.concurrencyPolicy}</td>
        <td class="next-run">${when(s.nextRunAt)}</td>
        <td class="last-result">${runResult(s.lastRun)}</td>
        <td class="state">${s.suspend ? 'suspended' : 'active'}</td>
      </tr>`,
  );
  return html`<table id="schedules">
    <thead>
      <tr>
        <th>Name</th>
        <th>Cron</th>
        <th>Zone</th>
        <th>Policy</th>
        <th>Next instant (UTC)</th>
        <th>Last result</th>
        <th>State</th>
      </tr>
    </thead>
    <tbody>
      ${
        rows.length === 0
          ? html`<tr>
              <td colspan="7">No schedules (<code>bai schedule create</code> makes one).</td>
            </tr>`
          : rows
      }
    </tbody>
  </table>`;
}

/** The body of /console/schedules/{name}: facts, actions, next instants in its zone, runs with links to their sessions. */
export function scheduleDetail(s: ScheduleWire, user: ConsoleUser): SafeHtml {
  const next = s.nextInstants ?? [];
  const runs = s.runs ?? [];
  const actions = html`<p class="actions">
    <span id="schedule-state" class="state">${s.suspend ? 'suspended' : 'active'}</span>
    ${
      s.suspend
        ? postButton(user, schedulePageUrl(s.name, '/resume'), 'Resume', 'resume')
        : postButton(user, schedulePageUrl(s.name, '/suspend'), 'Suspend', 'suspend')
    }
    ${postButton(user, schedulePageUrl(s.name, '/trigger'), 'Run now', 'trigger')}
  </p>`;
  const runRows = runs.map(
    (r) =>
      html`<tr data-run="${r.scheduledFor}" class="outcome-${r.outcome}">
        <td>${instantText(r.scheduledFor)}</td>
        <td class="run-outcome">${r.outcome}</td>
        <td>
          ${r.sessionId ? html`<a href="/console/sessions/${r.sessionId}" class="run-session">${r.sessionId}</a>` : '-'}
        </td>
        <td class="run-result">${runResult(r)}</td>
        <td data-exit-of="${r.sessionId ?? ''}">${r.exitCode ?? '-'}</td>
      </tr>`,
  );
  return html`${actions}
    <dl class="facts">
      <dt>Cron</dt>
      <dd id="cron"><code>${s.cron}</code></dd>
      <dt>Zone</dt>
      <dd id="timezone">${s.timezone}</dd>
      <dt>Policy</dt>
      <dd id="policy">${s.concurrencyPolicy}</dd>
      <dt>Starting deadline</dt>
      <dd>${s.startingDeadlineSeconds === null ? 'none' : `${s.startingDeadlineSeconds} s`}</dd>
      <dt>History kept</dt>
      <dd>${s.successfulHistoryLimit} succeeded, ${s.failedHistoryLimit} failed</dd>
      <dt>Owner</dt>
      <dd>${s.ownerAccessKey}</dd>
      <dt>Next run (UTC)</dt>
      <dd id="next-run">${when(s.nextRunAt)}</dd>
      <dt>Created</dt>
      <dd>${when(s.createdAt)}</dd>
    </dl>
    <h2>Next instants (${s.timezone})</h2>
    ${
      next.length === 0
        ? html`<p id="next-instants">${s.suspend ? 'None while suspended.' : 'None.'}</p>`
        : html`<ol id="next-instants">
            ${next.map((i) => html`<li><time datetime="${i}">${instantText(i)}</time></li>`)}
          </ol>`
    }
    <h2>Runs</h2>
    <table id="runs">
      <thead>
        <tr>
          <th>Instant</th>
          <th>Outcome</th>
          <th>Session</th>
          <th>Result</th>
          <th>Exit</th>
        </tr>
      </thead>
      <tbody>
        ${
          runRows.length === 0
            ? html`<tr>
                <td colspan="5">No runs yet.</td>
              </tr>`
            : runRows
        }
      </tbody>
    </table>`;
}

/** The session page's "schedule of origin" fact, when a schedule created the session. */
export function scheduleOriginFact(
  name: string | null | undefined,
  scheduledFor: Date | string | null | undefined,
) {
  if (!name) return '';
  return html`<dt>Schedule of origin</dt>
    <dd id="schedule-origin">
      <a href="${schedulePageUrl(name)}">${name}</a> (instant ${when(scheduledFor ?? null)})
    </dd>`;
}
