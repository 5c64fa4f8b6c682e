import test from 'ava';
import type { SessionStatus } from '../../src/domain/status.js';
import { newSession, storeFixture } from '../helpers/session-rows.js';

/**
 * The events a session's transitions write, on a real PostgreSQL: a batch session's result
 * comes once, just before session_terminated, in the stream and in its callbacks alike.
 */
const fx = storeFixture(test);

/** A batch session (a main and two subs) with a callback_url, PENDING. */
async function newBatchSession(name: string): Promise<string> {
  return (await newSession(fx, name, [], { callback_url: 'http://hook.invalid/events' })).id;
}

async function through(id: string, statuses: SessionStatus[]): Promise<void> {
  for (const to of statuses) moved(await fx.store.transition(id, to, { kernels: true }), to);
}

function moved(row: unknown, to: string): void {
  if (!row) throw new Error(`the move to ${to} was refused`);
}

async function sessionEvents(id: string): Promise<string[]> {
  return (await fx.database
    .db('session_events')
    .where({ session_id: id })
    .whereNull('kernel_id')
    .orderBy('id')
    .pluck('name')) as string[];
}

async function callbackEvents(id: string): Promise<string[]> {
  const rows = (await fx.database.db('webhook_deliveries').where({ session_id: id }).orderBy('id')) as {
    body: string | { event: string };
  }[];
  return rows.map(
    (r) => (typeof r.body === 'string' ? (JSON.parse(r.body) as { event: string }) : r.body).event,
  );
}

test('a batch session that ends TERMINATED announces its result just before session_terminated', async (t) => {
  const id = await newBatchSession('ends-ok');
  await through(id, ['SCHEDULED', 'PREPARING', 'RUNNING']);
  moved(
    await fx.store.transition(id, 'TERMINATED', { result: 'SUCCESS', exitCode: 0, kernels: true }),
    'TERMINATED',
  );
  t.deepEqual((await sessionEvents(id)).slice(-3), [
    'session_started',
    'session_success',
    'session_terminated',
  ]);
  t.deepEqual(await callbackEvents(id), ['enqueued', 'started', 'success', 'terminated']);
});

test('a batch session that fails through ERROR announces its failure once, before session_terminated', async (t) => {
  const id = await newBatchSession('ends-error');
  await through(id, ['SCHEDULED', 'PREPARING']);
  moved(
    await fx.store.transition(id, 'ERROR', { info: 'failed-to-start', result: 'FAILURE', kernels: true }),
    'ERROR',
  );
  moved(
    await fx.store.transition(id, 'TERMINATED', { info: 'failed-to-start', kernels: true }),
    'TERMINATED',
  );
  const names = await sessionEvents(id);
  t.is(names.filter((n) => n === 'session_failure').length, 1, names.join(' '));
  t.deepEqual(names.slice(-2), ['session_failure', 'session_terminated']);
  t.deepEqual(await callbackEvents(id), ['enqueued', 'failure', 'terminated']);
});
