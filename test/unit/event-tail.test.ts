import test from 'ava';
import { EventTail } from '../../src/api/event-tail.js';
import type { EventLog } from '../../src/persistence/event-store.js';
import type { SessionEventRow } from '../../src/persistence/rows.js';

/** An event log in memory whose reads fail while `failing` is set (our own interface, not PostgreSQL). */
class FlakyLog implements EventLog {
  rows: SessionEventRow[] = [];
  failing: Error | null = null;
  reads = 0;

  add(id: number): void {
    this.rows.push({
      id,
      session_id: 's',
      kernel_id: null,
      access_key: 'AK',
      name: 'session_started',
      data: {},
      created_at: new Date(),
    });
  }
  async maxId(): Promise<number> {
    return this.rows.at(-1)?.id ?? 0;
  }
  async after(afterId: number, limit: number): Promise<SessionEventRow[]> {
    this.reads += 1;
    if (this.failing) throw this.failing;
    return this.rows.filter((r) => r.id > afterId).slice(0, limit);
  }
  async byIds(ids: number[]): Promise<SessionEventRow[]> {
    if (this.failing) throw this.failing;
    return this.rows.filter((r) => ids.includes(r.id));
  }
}

function recorder() {
  const lines: { level: string; msg: string; extra?: Record<string, unknown> }[] = [];
  return {
    lines,
    log: {
      info: (msg: string, extra?: Record<string, unknown>) => lines.push({ level: 'info', msg, extra }),
      error: (msg: string, extra?: Record<string, unknown>) => lines.push({ level: 'error', msg, extra }),
    },
  };
}

async function until(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a failing read is logged with context, retried with backoff, shown in state, and delivery resumes', async (t) => {
  const store = new FlakyLog();
  store.add(1);
  const got: number[] = [];
  const { lines, log } = recorder();
  const tail = new EventTail(store, (ev) => got.push(ev.id), log, { retryBaseMs: 20, retryMaxMs: 80 });
  await tail.start();
  t.is(tail.horizon(), 1);
  t.true(tail.state().ok);

  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
  store.failing = refused;
  store.add(2);
  tail.poll();
  await until(() => lines.filter((l) => l.level === 'error').length >= 4);
  const state = tail.state();
  t.false(state.ok);
  t.is(state.lastError, 'database-unavailable');
  t.false(Number.isNaN(Date.parse(state.since)));
  t.deepEqual(got, []);
  const errors = lines.filter((l) => l.level === 'error');
  t.regex(errors[0]!.msg, /event tail/);
  t.is(errors[0]!.extra?.after, 1);
  t.is(errors[0]!.extra?.attempt, 1);
  t.regex(String(errors[0]!.extra?.err), /ECONNREFUSED/);
  // Backoff: each delay doubles, up to the cap.
  t.deepEqual(
    errors.slice(0, 4).map((e) => e.extra?.retryInMs),
    [20, 40, 80, 80],
  );
  // Polls while backing off do not read again before the retry is due.
  const reads = store.reads;
  tail.poll();
  tail.poll();
  t.is(store.reads, reads);

  store.failing = null;
  await until(() => got.length === 1);
  t.deepEqual(got, [2]);
  t.true(tail.state().ok);
  t.is(tail.state().lastError, 'database-unavailable', 'the last failure stays visible after recovery');
  t.true(lines.some((l) => l.level === 'info' && l.msg === 'event tail recovered'));
  await tail.close();
});

test('an error that is not about the database is named by its code or name', async (t) => {
  const store = new FlakyLog();
  const { log } = recorder();
  const tail = new EventTail(store, () => {}, log, { retryBaseMs: 1_000 });
  await tail.start();
  store.failing = new TypeError('boom');
  tail.poll();
  await until(() => !tail.state().ok);
  t.is(tail.state().lastError, 'TypeError');
  await tail.close();
});

test('close stops the retries: no timer is left and no read happens after', async (t) => {
  const store = new FlakyLog();
  const { log } = recorder();
  const tail = new EventTail(store, () => {}, log, { retryBaseMs: 30 });
  await tail.start();
  store.failing = new Error('down');
  tail.poll();
  await until(() => store.reads === 1);
  await tail.close();
  const reads = store.reads;
  await new Promise((r) => setTimeout(r, 100));
  t.is(store.reads, reads);
});

test('a delivery that throws is logged and does not stop the tail', async (t) => {
  const store = new FlakyLog();
  const { lines, log } = recorder();
  const got: number[] = [];
  const tail = new EventTail(
    store,
    (ev) => {
      if (ev.id === 1) throw new Error('listener bug');
      got.push(ev.id);
    },
    log,
  );
  await tail.start();
  store.add(1);
  store.add(2);
  tail.poll();
  await until(() => got.length === 1);
  t.deepEqual(got, [2]);
  t.true(tail.state().ok);
  t.true(lines.some((l) => l.msg === 'event delivery failed' && l.extra?.eventId === 1));
  await tail.close();
});

test('caughtUp resolves after a read that began after the call, also when a read was under way', async (t) => {
  const store = new FlakyLog();
  const got: number[] = [];
  const tail = new EventTail(store, (ev) => got.push(ev.id), recorder().log);
  await tail.start();
  store.add(1);
  await tail.caughtUp();
  t.deepEqual(got, [1]);
  t.is(tail.horizon(), 1);
  // A read is under way when event 2 commits: caughtUp waits for the read after it.
  store.add(2);
  tail.poll();
  store.add(3);
  await tail.caughtUp();
  t.deepEqual(got, [1, 2, 3]);
  t.is(tail.horizon(), 3);
  await tail.close();
});

/** A log whose next read waits for `release()`, then answers with the rows there at that moment. */
class HeldLog extends FlakyLog {
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open?.();
    this.gate = null;
  }
  override add(id: number): void {
    super.add(id);
    this.rows.sort((a, b) => a.id - b.id); // committed out of order, read in id order
  }
  override async after(afterId: number, limit: number): Promise<SessionEventRow[]> {
    if (this.gate) await this.gate;
    return super.after(afterId, limit);
  }
}

test('offered events are handed out at once when they follow the horizon; never twice, never past a hole', async (t) => {
  const store = new HeldLog();
  const got: number[] = [];
  const tail = new EventTail(store, (ev) => got.push(ev.id), recorder().log);
  await tail.start();
  const rowsOf = (...ids: number[]) => ids.map((id) => store.rows.find((r) => r.id === id)!);
  // The next ids: handed out without a read.
  store.add(1);
  store.add(2);
  const reads = store.reads;
  t.true(tail.offer(rowsOf(1, 2)));
  t.deepEqual(got, [1, 2]);
  t.is(tail.horizon(), 2);
  t.is(store.reads, reads, 'no read');
  // A hole before them (id 3 not committed yet, or another commit's): not taken.
  store.add(4);
  t.false(tail.offer(rowsOf(4)));
  t.false(tail.offer([]));
  t.deepEqual(got, [1, 2]);
  // Id 3 commits and is offered: the next id, handed out (before 4, as a read would).
  store.add(3);
  t.true(tail.offer(rowsOf(3)));
  t.deepEqual(got, [1, 2, 3]);
  // A hole among them: not taken either.
  store.add(6);
  t.false(tail.offer([...rowsOf(4), ...rowsOf(6)]), 'ids 4 and 6 leave 5 out');
  store.rows = store.rows.filter((r) => r.id !== 6);
  await tail.caughtUp();
  t.deepEqual(got, [1, 2, 3, 4], 'the read hands out what was not taken');
  // A read under way when a commit's own events are offered finds them too: skipped there.
  store.hold();
  tail.poll();
  store.add(5);
  t.true(tail.offer(rowsOf(5)));
  store.release();
  await tail.caughtUp();
  t.deepEqual(got, [1, 2, 3, 4, 5], 'each once');
  t.is(tail.horizon(), 5);
  await tail.close();
});
