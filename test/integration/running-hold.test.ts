import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { keyOf, strictSamples } from '../helpers/prom-text.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * The RUNNING report of a main just started waits for its exit (BAI_RUNNING_REPORT_HOLD_MS):
 * a main that ends within the hold is reported once, its exit carrying RUNNING. On real
 * PostgreSQL, Redis and Docker, with a hold of a minute, so that every session here ends (or is
 * stopped, or its agent closes) inside it whatever the machine's load: the session's record is
 * the same as with two reports, and nothing is lost when the agent closes meanwhile.
 */

let stack: TestStack;
const HOLD_MS = 60_000;

test.before(async () => {
  stack = await startTestStack({ agents: 0, agent: { runningHoldMs: HOLD_MS, metricsPort: 0 } });
  await stack.addAgent();
});
test.after.always(async () => {
  await stack?.close();
});

async function agentSamples(): Promise<Map<string, number>> {
  const res = await fetch(stack.agents[0]!.metricsUrl!);
  if (res.status !== 200) throw new Error(`agent metrics: ${res.status}`);
  return strictSamples(await res.text());
}

const agentId = () => stack.agentConfig(1).id;
const runningReports = (m: Map<string, number>, how: 'alone' | 'with-exit') =>
  m.get(keyOf('bai_agent_running_reports_total', { agent_id: agentId(), how })) ?? 0;

async function create(command: string): Promise<string> {
  return (await stack.client.request<{ sessionId: string }>('POST', '/session', batch(command))).sessionId;
}

/** The session's events, oldest first. */
async function eventNames(sessionId: string): Promise<string[]> {
  const rows = await stack.database
    .db('session_events')
    .where({ session_id: sessionId })
    .orderBy('id')
    .select<{ name: string }[]>('name');
  return rows.map((r) => r.name);
}

/** Waits until the agent follows `n` running containers (its RUNNING report still held). */
async function runningOnAgent(n: number): Promise<void> {
  await eventually(
    async () =>
      (await agentSamples()).get(keyOf('bai_agent_containers_running', { agent_id: agentId() })) === n,
    { timeoutMs: 120_000, message: () => `the agent to run ${n} container(s)` },
  );
}

test.serial('a main that ends within the hold is reported once, with RUNNING before its end', async (t) => {
  const m0 = await agentSamples();
  const sessionId = await create('true');
  const s = await waitForStatus(stack.client, sessionId);
  t.is(`${s.status} ${s.result} ${s.exitCode}`, 'TERMINATED SUCCESS 0');

  const row = await stack.database.db('sessions').where({ id: sessionId }).first();
  t.truthy(row.started_at, 'started_at comes from the carried RUNNING report');
  const at = (status: string) => Date.parse((row.status_history as Record<string, string>)[status] ?? '');
  t.true(at('CREATING') <= at('RUNNING'), JSON.stringify(row.status_history));
  t.true(at('RUNNING') <= at('TERMINATED'), JSON.stringify(row.status_history));
  const kernel = await stack.database.db('kernels').where({ session_id: sessionId }).first();
  t.truthy(kernel.container_id, "the kernel keeps its container's id");
  t.truthy(kernel.started_at);

  const names = await eventNames(sessionId);
  t.true(names.indexOf('session_started') >= 0, names.join(' '));
  t.true(names.indexOf('session_creating') < names.indexOf('session_started'), names.join(' '));
  t.true(names.indexOf('session_started') < names.indexOf('session_terminated'), names.join(' '));
  t.true(names.indexOf('kernel_started') < names.indexOf('kernel_terminated'), names.join(' '));

  const m1 = await agentSamples();
  t.is(runningReports(m1, 'with-exit') - runningReports(m0, 'with-exit'), 1);
  t.is(runningReports(m1, 'alone') - runningReports(m0, 'alone'), 0);
});

test.serial('a main destroyed within the hold ends TERMINATED, its start recorded', async (t) => {
  const m0 = await agentSamples();
  const sessionId = await create('sleep 600');
  await runningOnAgent(1);
  const before = await stack.client.request<{ status: string }>('GET', `/session/${sessionId}`);
  t.not(before.status, 'RUNNING', 'RUNNING is held while the hold lasts');
  await stack.client.request('DELETE', `/session/${sessionId}`);
  const s = await waitForStatus(stack.client, sessionId);
  t.is(s.status, 'TERMINATED');
  // It was TERMINATING when the exit came, so the RUNNING it carried moves nothing (no status
  // goes back), as when a RUNNING report lands after a destroy: TERMINATED says its command
  // ran, and started_at is its start.
  const row = await stack.database.db('sessions').where({ id: sessionId }).first();
  t.truthy(row.started_at);
  t.is(row.status_info, 'user-requested');
  const m1 = await agentSamples();
  t.is(runningReports(m1, 'with-exit') - runningReports(m0, 'with-exit'), 1);
  await runningOnAgent(0);
});

test.serial('an agent that closes sends the RUNNING reports it still holds', async (t) => {
  const sessionId = await create('sleep 600');
  await runningOnAgent(1);
  const before = await stack.client.request<{ status: string }>('GET', `/session/${sessionId}`);
  t.not(before.status, 'RUNNING', 'RUNNING is held while the hold lasts');
  const closedAt = Date.now();
  await stack.agents[0]!.close();
  // Nothing else can say RUNNING now: the agent is gone, and no other agent runs. (The manager
  // may then declare the agent lost and end the session: its record keeps the RUNNING.)
  const row = await eventually(
    async () => {
      const r = await stack.database.db('sessions').where({ id: sessionId }).first();
      return r.status_history?.RUNNING ? r : null;
    },
    { timeoutMs: 60_000, message: () => 'the held RUNNING report to land' },
  );
  t.truthy(row.started_at);
  t.true(Date.parse(row.status_history.RUNNING) <= closedAt, 'RUNNING at its start, not at the close');
});
