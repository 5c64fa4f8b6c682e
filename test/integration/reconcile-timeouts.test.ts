import test from 'ava';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

// The reconciler reads both timeouts in one statement (FleetStore.timedOut): each still ends
// its own sessions, and only those.
let stack: TestStack;
test.before(async () => {
  // A long agent timeout: the agent is closed on purpose, and must not be judged lost.
  stack = await startTestStack({ manager: { agentTimeoutMs: 120_000, phaseTimeoutMs: 3_000 } });
});
test.after.always(async () => {
  await stack?.close();
});

test.serial(
  'a PENDING session past its scaling group pending timeout is CANCELLED pending-timeout',
  async (t) => {
    t.timeout(120_000); // generous: CI machines are shared and slow
    await stack.manager.db('scaling_groups').where({ name: 'default' }).update({ pending_timeout_sec: 1 });
    try {
      // PENDING for an hour (its starts_at), so only the pending timeout can end it.
      const startsAt = new Date(Date.now() + 3_600_000).toISOString();
      const { sessionId } = await stack.client.request<{ sessionId: string }>(
        'POST',
        '/session',
        batch('true', { name: 'pending-timeout', starts_at: startsAt, enqueueOnly: true }),
      );
      const v = await waitForStatus(stack.client, sessionId, ['TERMINATED', 'CANCELLED'], 60_000);
      t.is(v.status, 'CANCELLED');
      t.is(v.statusInfo, 'pending-timeout');
    } finally {
      await stack.manager.db('scaling_groups').where({ name: 'default' }).update({ pending_timeout_sec: 0 });
    }
  },
);

test.serial('a session stuck SCHEDULED past the phase timeout is CANCELLED phase-timeout', async (t) => {
  t.timeout(120_000);
  await stack.agents[0]!.close(); // nobody takes jobs now: a placement stays SCHEDULED
  const create = async (name: string, extra: Record<string, unknown> = {}) =>
    (
      await stack.client.request<{ sessionId: string }>(
        'POST',
        '/session',
        batch('true', { name, enqueueOnly: true, ...extra }),
      )
    ).sessionId;
  // PENDING for an hour (its starts_at), its group without a pending timeout: neither applies.
  const waiting = await create('waits', { starts_at: new Date(Date.now() + 3_600_000).toISOString() });
  const stuck = await create('phase-timeout');
  const v = await waitForStatus(stack.client, stuck, ['TERMINATED', 'CANCELLED'], 60_000);
  t.is(v.status, 'CANCELLED');
  t.is(v.statusInfo, 'phase-timeout');
  const w = await waitForStatus(stack.client, waiting, ['PENDING'], 5_000);
  t.is(w.status, 'PENDING');
});
