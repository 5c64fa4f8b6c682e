import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { until } from '../helpers/eventually.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * A session due after the dispatcher's horizon leaves the queue (`due_later`, migration
 * 20261202180000) and comes back when a pass's horizon reaches its time: through a running
 * manager, with a lead window of one second, a session due in twenty is flagged, then runs,
 * not before its time.
 */
let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ manager: { startLeadMs: 1_000 } });
});
test.after.always(async () => {
  await stack?.close();
});

test('a session due later is flagged out of the queue, then runs at its time', async (t) => {
  const startsAt = new Date(Date.now() + 20_000);
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('echo later', { name: 'due-later', starts_at: startsAt.toISOString() }),
  );
  const row = () =>
    stack.database.db('sessions').where({ id: sessionId }).first('due_later', 'status') as Promise<{
      due_later: boolean;
      status: string;
    }>;
  // The pass its submit kicked flags it (its time is 19 s past that pass's horizon).
  await until('the session flagged due later', async () => (await row()).due_later || null);
  t.is((await row()).status, 'PENDING');
  const v: SessionWire = await waitForStatus(stack.client, sessionId, ['TERMINATED', 'CANCELLED'], 120_000);
  t.is(`${v.status} ${v.result}`, 'TERMINATED SUCCESS', v.statusInfo ?? '');
  t.true(Date.parse(v.kernels[0]!.startedAt!) >= startsAt.getTime(), 'not started before its time');
  t.false((await row()).due_later, 'the flag was cleared when its time came');
});
