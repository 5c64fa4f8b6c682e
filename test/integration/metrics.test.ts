import test from 'ava';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { eventually } from '../helpers/eventually.js';
import { keyOf, strictSamples } from '../helpers/prom-text.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * `GET /metrics` of the manager and of an agent, on real PostgreSQL, Redis and Docker: one
 * session run between two scrapes moves the counters and histograms by exactly what happened,
 * the text passes a third-party parser and a strict check of our own, and the token is required.
 */

const TOKEN = 'metrics-token-for-the-test';
let stack: TestStack;

test.before(async () => {
  stack = await startTestStack({
    agents: 0,
    manager: { metricsToken: TOKEN },
    agent: { metricsPort: 0, metricsToken: TOKEN },
  });
  await stack.addAgent();
});
test.after.always(async () => {
  await stack?.close();
});

const auth = { Authorization: `Bearer ${TOKEN}` };

/** Scrapes `url` with the token: the text, checked by both parsers, and its samples. */
async function scrape(url: string): Promise<{ text: string; samples: Map<string, number> }> {
  const res = await fetch(url, { headers: auth });
  if (res.status !== 200) throw new Error(`scrape ${url}: ${res.status} ${await res.text()}`);
  if (!/^text\/plain; version=0\.0\.4/.test(res.headers.get('content-type') ?? ''))
    throw new Error(`content-type ${res.headers.get('content-type')}`);
  const text = await res.text();
  const families = parsePrometheusTextFormat(text);
  if (families.length === 0) throw new Error('no metric families parsed');
  return { text, samples: strictSamples(text) };
}

const managerUrl = () => `${stack.manager.url}/metrics`;
const agentUrl = () => stack.agents[0]!.metricsUrl!;
const v = (m: Map<string, number>, name: string, labels: Record<string, string> = {}) =>
  m.get(keyOf(name, labels)) ?? 0;

test.serial('one session between two scrapes moves the metrics by exactly what happened', async (t) => {
  const agentId = stack.agentConfig(1).id;
  const group = 'default';
  const m0 = (await scrape(managerUrl())).samples;
  const a0 = (await scrape(agentUrl())).samples;

  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('echo hi'),
  );
  const s = await waitForStatus(stack.client, sessionId);
  t.is(`${s.status} ${s.result}`, 'TERMINATED SUCCESS');

  // The agent's containers gauge reads its table at scrape: the container is gone once cleaned up.
  let a1 = new Map<string, number>();
  await eventually(
    async () => {
      a1 = (await scrape(agentUrl())).samples;
      return v(a1, 'bai_agent_containers_running', { agent_id: agentId }) === 0;
    },
    { timeoutMs: 60_000, message: () => 'the agent to count no running container' },
  );
  const m1 = (await scrape(managerUrl())).samples;
  const d = (name: string, labels: Record<string, string> = {}) => v(m1, name, labels) - v(m0, name, labels);
  const da = (name: string, labels: Record<string, string> = {}) =>
    v(a1, name, { agent_id: agentId, ...labels }) - v(a0, name, { agent_id: agentId, ...labels });

  t.is(d('bai_sessions', { status: 'TERMINATED', result: 'SUCCESS', scaling_group: group }), 1);
  t.is(v(m1, 'bai_sessions', { status: 'PENDING', result: 'UNDEFINED', scaling_group: group }), 0);
  t.is(v(m1, 'bai_pending_oldest_age_seconds', { scaling_group: group }), 0);
  t.is(d('bai_session_submit_to_start_seconds_count', { scaling_group: group }), 1);
  t.is(d('bai_session_submit_to_start_seconds_bucket', { scaling_group: group, le: '+Inf' }), 1);
  t.true(d('bai_session_submit_to_start_seconds_sum', { scaling_group: group }) > 0);
  t.is(d('bai_http_request_duration_seconds_count', { route: '/session', method: 'POST', status: '201' }), 1);
  t.true(
    v(m1, 'bai_http_request_duration_seconds_count', {
      route: '/session/:ref',
      method: 'GET',
      status: '200',
    }) > 0,
    'GETs are counted under their route template, not their URL',
  );
  t.false(
    [...m1.keys()].some((k) => k.includes(sessionId)),
    'no series is named after a session',
  );
  t.is(d('bai_dispatch_decisions_total', { outcome: 'placed' }), 1);
  t.true(d('bai_dispatch_pass_duration_seconds_count') >= 1);
  t.is(v(m1, 'bai_agent_up', { agent_id: agentId, scaling_group: group }), 1);
  t.is(v(m1, 'bai_agent_slots', { agent_id: agentId, scaling_group: group, slot: 'cpu' }), 4);
  t.is(v(m1, 'bai_agent_slots_used', { agent_id: agentId, scaling_group: group, slot: 'cpu' }), 0);
  t.true(m1.has(keyOf('bai_reports_queue_jobs', { agent_id: agentId, state: 'wait' })));
  t.is(v(m1, 'bai_reports_queue_jobs', { agent_id: agentId, state: 'failed' }), 0);
  t.is(d('bai_metrics_reads_total'), 1, 'one read for the one scrape');

  // The agent: one container started, timed once; the image was present, so nothing was pulled.
  t.is(da('bai_agent_containers_started_total'), 1);
  t.is(da('bai_agent_container_start_duration_seconds_count'), 1);
  t.is(da('bai_agent_container_start_duration_seconds_bucket', { le: '+Inf' }), 1);
  t.is(da('bai_agent_image_present_total'), 1);
  t.is(da('bai_agent_image_pull_duration_seconds_count', { outcome: 'pulled' }), 0);
  // Its RUNNING report went once: alone, or carried by its exit (within the hold; load decides).
  t.is(
    da('bai_agent_running_reports_total', { how: 'alone' }) +
      da('bai_agent_running_reports_total', { how: 'with-exit' }),
    1,
  );
});

test.serial(
  'a session waiting for capacity shows in the pending gauges and the waiting decisions',
  async (t) => {
    const create = async (cmd: string, cpu: number) =>
      (
        await stack.client.request<{ sessionId: string }>(
          'POST',
          '/session',
          batch(cmd, { config: { resources: { cpu, mem: '64m' } } }),
        )
      ).sessionId;
    // The agent's four CPUs held by one session, the next one waits for capacity.
    const holder = await create('sleep 600', 4);
    await waitForStatus(stack.client, holder, ['RUNNING']);
    const m0 = (await scrape(managerUrl())).samples;
    const sessionId = await create('true', 1);
    let m1 = new Map<string, number>();
    await eventually(
      async () => {
        m1 = (await scrape(managerUrl())).samples;
        return (
          v(m1, 'bai_pending_oldest_age_seconds', { scaling_group: 'default' }) > 0 &&
          v(m1, 'bai_dispatch_decisions_total', { outcome: 'waiting' }) >
            v(m0, 'bai_dispatch_decisions_total', { outcome: 'waiting' })
        );
      },
      { timeoutMs: 60_000, message: () => 'the waiting session to show' },
    );
    t.is(v(m1, 'bai_sessions', { status: 'PENDING', result: 'UNDEFINED', scaling_group: 'default' }), 1);
    t.is(v(m1, 'bai_sessions', { status: 'RUNNING', result: 'UNDEFINED', scaling_group: 'default' }), 1);
    const agentId = stack.agentConfig(1).id;
    t.is(v(m1, 'bai_agent_slots_used', { agent_id: agentId, scaling_group: 'default', slot: 'cpu' }), 4);
    for (const id of [sessionId, holder]) await stack.client.request('DELETE', `/session/${id}`);
    for (const id of [sessionId, holder]) await waitForStatus(stack.client, id);
  },
);

test.serial('a pull that fails is timed under outcome failed, and starts nothing', async (t) => {
  // A registry on a port nothing listens on: the engine's pull fails at once.
  const host = '127.0.0.1:1';
  const db = stack.database.db;
  await db('container_registries').insert({ hostname: host, url: `http://${host}` });
  await db('images').insert({ name: `${host}/python:t`, registry: host });
  await db('domains')
    .where({ name: 'default' })
    .update({ allowed_registries: db.raw(`allowed_registries || ?::jsonb`, [JSON.stringify([host])]) });
  const a0 = (await scrape(agentUrl())).samples;
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('true', { image: `${host}/python:t` }),
  );
  const s = await waitForStatus(stack.client, sessionId);
  t.is(`${s.status} ${s.statusInfo}`, 'CANCELLED image-pull-failed');
  const a1 = (await scrape(agentUrl())).samples;
  const agentId = stack.agentConfig(1).id;
  const da = (name: string, labels: Record<string, string> = {}) =>
    v(a1, name, { agent_id: agentId, ...labels }) - v(a0, name, { agent_id: agentId, ...labels });
  t.is(da('bai_agent_image_pull_duration_seconds_count', { outcome: 'failed' }), 1);
  t.is(da('bai_agent_image_pull_duration_seconds_bucket', { outcome: 'failed', le: '+Inf' }), 1);
  t.is(da('bai_agent_image_pull_duration_seconds_count', { outcome: 'pulled' }), 0);
  t.is(da('bai_agent_containers_started_total'), 0);
  t.is(da('bai_agent_container_start_duration_seconds_count'), 0);
});

test.serial('GET /metrics wants the token when one is configured', async (t) => {
  for (const url of [managerUrl(), agentUrl()]) {
    t.is((await fetch(url)).status, 401, `${url} without a token`);
    t.is(
      (await fetch(url, { headers: { Authorization: 'Bearer wrong' } })).status,
      401,
      `${url} wrong token`,
    );
    const ok = await fetch(url, { headers: auth });
    t.is(ok.status, 200, `${url} with the token`);
    await ok.text();
  }
  const denied = await fetch(managerUrl());
  t.is(denied.headers.get('content-type'), 'application/problem+json');
  t.regex(String(((await denied.json()) as { type: string }).type), /auth-failed$/);
});
