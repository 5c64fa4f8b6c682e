import test from 'ava';
import type { Report } from '../../src/queue/payloads.js';
import { AgentReports } from '../../src/workers/agent/reports.js';
import type { Reporter } from '../../src/workers/agent/reporter.js';
import { newTracked, note, type Tracked } from '../../src/workers/agent/tracked.js';
import { eventually } from '../helpers/eventually.js';

/**
 * The agent's held RUNNING report (reports.ts): taken by an exit, sent by its timer, or sent at
 * once by a later `running` with the time the main began; never both, never twice. The reporter
 * here records what it is given (the stream behind it is tested in the integration suite).
 */

function recorder(): { reporter: Reporter; sent: { report: Report; id: string }[] } {
  const sent: { report: Report; id: string }[] = [];
  const reporter = {
    send: async (report: Report, id: string) => {
      sent.push({ report, id });
      return '1-0';
    },
  } as unknown as Reporter;
  return { reporter, sent };
}

function started(): Tracked {
  const t = newTracked('s1', 2, null, 'running');
  t.containers.push({ kernelId: 'k1', containerId: 'c1', role: 'main' });
  note(t, 'PREPARING');
  note(t, 'CREATING');
  return t;
}

test('an exit within the hold takes the RUNNING report, with the phases, and nothing is sent', async (t) => {
  const { reporter, sent } = recorder();
  const counted: string[] = [];
  const reports = new AgentReports(reporter, 'a1', { countRunningReport: (how) => counted.push(how) });
  const tracked = started();
  const before = Date.now();
  reports.holdRunning(tracked, { startedAt: 'x' }, 60_000, (err) => t.fail(String(err)));
  const held = reports.takeHeldRunning(tracked);
  t.deepEqual(
    held?.phases?.map((p) => p.status),
    ['PREPARING', 'CREATING'],
  );
  t.deepEqual(held?.containers, [{ kernelId: 'k1', containerId: 'c1' }]);
  t.deepEqual(held?.data, { startedAt: 'x' });
  t.true(held!.at >= before && held!.at <= Date.now());
  t.is(reports.takeHeldRunning(tracked), null, 'taken once');
  t.is(tracked.heldRunning, null);
  t.deepEqual(tracked.phases, []);
  t.deepEqual(counted, ['with-exit']);
  t.is(sent.length, 0);
});

test('when the hold ends first, its timer sends RUNNING with the time the main began', async (t) => {
  const { reporter, sent } = recorder();
  const counted: string[] = [];
  const reports = new AgentReports(reporter, 'a1', { countRunningReport: (how) => counted.push(how) });
  const tracked = started();
  reports.holdRunning(tracked, { startedAt: 'x' }, 5, (err) => t.fail(String(err)));
  const at = tracked.heldRunning!.at;
  await eventually(async () => sent.length === 1, {
    timeoutMs: 30_000,
    message: () => 'the held report sent',
  });
  const r = sent[0]!.report;
  t.is(r.name, 'session-progress');
  if (r.name !== 'session-progress') return;
  t.like(r.data, { status: 'RUNNING', sessionId: 's1', attempt: 2, at, data: { startedAt: 'x' } });
  t.deepEqual(
    r.data.phases?.map((p) => p.status),
    ['PREPARING', 'CREATING'],
  );
  t.is(sent[0]!.id, `progress.s1.2.RUNNING.${at}`);
  t.is(reports.takeHeldRunning(tracked), null, 'an exit after it carries nothing');
  t.deepEqual(counted, ['alone']);
});

test('running() while one is held sends it once, with its time, and the hold is over', async (t) => {
  const { reporter, sent } = recorder();
  const reports = new AgentReports(reporter, 'a1');
  const tracked = started();
  reports.holdRunning(tracked, { startedAt: 'x' }, 60_000, (err) => t.fail(String(err)));
  const at = tracked.heldRunning!.at;
  await reports.flushHeldRunning(tracked);
  await reports.flushHeldRunning(tracked); // nothing held any more: nothing sent
  t.is(sent.length, 1);
  const r = sent[0]!.report;
  if (r.name !== 'session-progress') return t.fail(r.name);
  t.like(r.data, { status: 'RUNNING', at, data: { startedAt: 'x' } });
  t.is(reports.takeHeldRunning(tracked), null);
});
