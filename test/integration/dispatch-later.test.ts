import { randomUUID } from 'node:crypto';
import test from 'ava';
import { until } from '../helpers/eventually.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { call, makeKeypair } from '../helpers/api.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
});

async function waitForPredicates(ref: string): Promise<SessionWire> {
  return until(`session ${ref} to have predicates recorded`, async () => {
    const s = await stack.client.request<SessionWire>('GET', `/session/${ref}`);
    return (s.statusData as { predicates?: unknown }).predicates ? s : null;
  });
}

test.serial('a session waiting for tomorrow says why, in the same form as any other predicate', async (t) => {
  const startsAt = new Date(Date.now() + 86_400_000);
  const created = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('true', { starts_at: startsAt.toISOString() }),
  );
  const s = await waitForPredicates(created.sessionId);
  t.is(s.status, 'PENDING');
  t.deepEqual((s.statusData as { predicates: unknown }).predicates, [
    { name: 'starts_at', msg: `waits until ${startsAt.toISOString()}` },
  ]);
});

test.serial('sessions due now are placed however many sessions wait for a later starts_at', async (t) => {
  // More far-future sessions than one dispatch pass reads (1000), written straight to the
  // table as the API would; they are older, so a pass that read them first would starve the rest.
  // They belong to another keypair (on a policy without a pending limit), as one user's
  // backlog would; the admin's session below is the one that must not wait behind them.
  const { db } = stack.database;
  await call(stack.client, 'POST', '/resource-policies', {
    name: 'backlog',
    max_pending_session_count: null,
  });
  const owner = await makeKeypair(stack, { resource_policy: 'backlog' });
  const later = new Date(Date.now() + 86_400_000);
  const rows = Array.from({ length: 1100 }, (_, i) => ({
    id: randomUUID(),
    name: `later-${i}`,
    access_key: owner.accessKey,
    domain_name: 'default',
    group_name: 'default',
    scaling_group: 'default',
    type: 'batch',
    status: 'PENDING',
    image: 'bai.local/python:3.11-bookworm',
    requested_image: 'python',
    startup_command: 'true',
    requested_slots: JSON.stringify({ cpu: 1, mem: 268435456 }),
    starts_at: later,
    created_at: new Date(Date.now() - 60_000),
  }));
  for (let i = 0; i < rows.length; i += 200) await db('sessions').insert(rows.slice(i, i + 200));
  await db('kernels').insert(
    rows.map((r) => ({ id: randomUUID(), session_id: r.id, status: 'PENDING', occupied_slots: '{}' })),
  );
  const created = await stack.client.request<{ sessionId: string }>('POST', '/session', batch('true'));
  const s = await waitForStatus(stack.client, created.sessionId);
  t.is(s.result, 'SUCCESS');
  const still = (await db('sessions')
    .whereIn(
      'id',
      rows.map((r) => r.id),
    )
    .where('status', 'PENDING')
    .count('* as n')
    .first()) as { n: string };
  t.is(Number(still.n), rows.length);
});
