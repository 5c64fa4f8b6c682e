import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { openDb, migrateLatest } from '../src/persistence/db.js';
import { seedDefaults } from '../src/persistence/seed.js';
import { openRedis } from '../src/queue/redis.js';
import { PYTHON_IMAGE } from '../src/stack/python-image.js';
import type { BenchStack } from './lib/stack.js';
import { cpuMeter, rssMb } from './lib/stack.js';
import { clientOf, type ApiClient } from '../src/cli/client.js';
import { CounterMeter, type PerUnit } from './lib/counters.js';
import { lowerIsBetter, summaryLine, type BenchResult, type Row } from './lib/result.js';
import { summarize, type Summary } from './lib/stats.js';
import { Tracer } from './lib/trace.js';

interface LoadOutcome {
  accepted: number;
  errors: number;
  durationMs: number;
  perSecond: Summary;
  latency: Summary;
}

/** `clients` loops calling `op` for `durationMs`; counts completions per wall-clock second. */
async function load(clients: number, durationMs: number, op: () => Promise<void>): Promise<LoadOutcome> {
  const start = performance.now();
  const end = start + durationMs;
  const buckets = new Array<number>(Math.ceil(durationMs / 1000)).fill(0);
  const lat: number[] = [];
  let errors = 0;
  let firstError: unknown = null;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op();
          const t1 = performance.now();
          lat.push(t1 - t0);
          const b = Math.floor((t1 - start) / 1000);
          if (b < buckets.length) buckets[b]!++;
        } catch (err) {
          errors++;
          firstError ??= err;
        }
      }
    }),
  );
  const durationMs2 = performance.now() - start;
  if (errors > 0) process.stderr.write(`submit: ${errors} errors, first: ${String(firstError)}\n`);
  return {
    accepted: lat.length,
    errors,
    durationMs: durationMs2,
    perSecond: summarize(buckets),
    latency: summarize(lat),
  };
}

/**
 * The floor: the same rows bai writes for an accepted session (session, kernel, its PENDING
 * event, in one transaction) and one delayed queue add, straight from a loop — no HTTP, no
 * authentication, no validation. In a database of its own, so the manager never sees them.
 */
async function floor(
  stack: BenchStack,
  clients: number,
  durationMs: number,
): Promise<LoadOutcome & { counters: PerUnit }> {
  const admin = openDb(stack.pg.url, { min: 0, max: 1 });
  await admin.raw('CREATE DATABASE bench_floor');
  await admin.destroy();
  const db = openDb(stack.pg.url.replace(/\/[^/]*$/, '/bench_floor'), { min: 1, max: 16 });
  const redis = openRedis(stack.redis.url);
  const queue = new Queue('floor', { connection: redis, prefix: 'bench-floor' });
  try {
    await migrateLatest(db);
    const { accessKey } = await seedDefaults(db);
    const startsAt = new Date(Date.now() + 86_400_000);
    const counters = new CounterMeter(stack, 'bench_floor');
    await counters.begin();
    const out = await load(clients, durationMs, async () => {
      const id = randomUUID();
      const now = new Date().toISOString();
      await db.transaction(async (trx) => {
        await trx('sessions').insert({
          id,
          name: `sess-${randomBytes(4).toString('hex')}`,
          access_key: accessKey,
          domain_name: 'default',
          group_name: 'default',
          scaling_group: 'default',
          type: 'batch',
          status: 'PENDING',
          status_history: JSON.stringify({ PENDING: now }),
          image: PYTHON_IMAGE,
          requested_image: 'python',
          startup_command: 'true',
          environ: '{}',
          mounts: '[]',
          requested_slots: JSON.stringify({ cpu: 1, mem: 268435456 }),
          resource_opts: '{}',
          cluster_size: 1,
          cluster_mode: 'single-node',
          starts_at: startsAt,
          priority: 10,
        });
        await trx('kernels').insert({
          id: randomUUID(),
          session_id: id,
          cluster_role: 'main',
          cluster_idx: 1,
          cluster_hostname: 'main1',
          status: 'PENDING',
          status_history: JSON.stringify({ PENDING: now }),
          occupied_slots: '{}',
        });
        await trx('session_events').insert({
          session_id: id,
          access_key: accessKey,
          name: 'session_enqueued',
          data: JSON.stringify({ sessionId: id, status: 'PENDING' }),
        });
      });
      await queue.add(
        'run-session',
        { sessionId: id },
        { jobId: id, delay: 86_400_000, removeOnComplete: true },
      );
    });
    return { ...out, counters: await counters.end(Math.max(1, out.accepted)) };
  } finally {
    await queue.close();
    await redis.quit();
    await db.destroy();
  }
}

/**
 * A keypair of the bench's own, under a resource policy without a pending-session limit: the
 * earlier benches' sessions (and this run's) must not count against a limit and turn submits into
 * `quota-exceeded`, and the floor reads no pending count either. A user keypair, as a submitter is.
 */
async function submitterClient(stack: BenchStack): Promise<ApiClient> {
  const policy = `bench-submit-${randomBytes(3).toString('hex')}`;
  await stack.client.request('POST', '/resource-policies', {
    name: policy,
    max_concurrent_sessions: 1_000_000,
    max_pending_session_count: null,
  });
  const kp = (await stack.client.request('POST', '/keypairs', {
    user_email: `${policy}@bench.local`,
    role: 'user',
    resource_policy: policy,
  })) as { access_key: string; secret_key: string };
  return clientOf(stack.managerUrl, { accessKey: kp.access_key, secretKey: kp.secret_key });
}

export interface SubmitOutcome {
  result: BenchResult;
  /** RSS samples (MB) of manager and agent taken every 250 ms during bai's load. */
  rssUnderLoad: { manager: number[]; agent: number[] };
}

export async function runSubmit(
  stack: BenchStack,
  clients = 32,
  durationMs = 10_000,
  log: (m: string) => void = () => {},
): Promise<SubmitOutcome> {
  const meter = cpuMeter(stack);
  meter.begin();
  const f = await floor(stack, clients, durationMs);
  const fCpu = await meter.end();
  log(`submit: floor ${Math.round(f.accepted / (f.durationMs / 1000))}/s`);
  const startsAt = new Date(Date.now() + 86_400_000).toISOString();
  const rss = { manager: [] as number[], agent: [] as number[] };
  const sampler = setInterval(() => {
    rss.manager.push(rssMb(stack.manager.pid));
    rss.agent.push(rssMb(stack.agent.pid));
  }, 250);
  let b: LoadOutcome;
  const submitter = await submitterClient(stack);
  const counters = new CounterMeter(stack);
  await counters.begin();
  // BENCH_TRACE=1: where bai's statements and commands come from (slows the servers: counts only).
  const tracer = process.env.BENCH_TRACE ? new Tracer(stack) : null;
  await tracer?.begin();
  meter.begin();
  try {
    b = await load(clients, durationMs, async () => {
      await submitter.request('POST', '/session', {
        image: 'python',
        type: 'batch',
        startupCommand: 'true',
        enqueueOnly: true,
        starts_at: startsAt,
      });
    });
  } finally {
    clearInterval(sampler);
  }
  const bCpu = await meter.end();
  const trace = await tracer?.end(Math.max(1, b.accepted));
  const bCounters = await counters.end(Math.max(1, b.accepted));
  if (trace) log(`submit: trace per accepted session ${JSON.stringify(trace, null, 1)}`);
  log(`submit: per session — floor ${JSON.stringify(f.counters)}; bai ${JSON.stringify(bCounters)}`);
  log(`submit: CPU s — floor ${JSON.stringify(fCpu)}; bai ${JSON.stringify(bCpu)}`);
  const baiRate = b.accepted / (b.durationMs / 1000);
  const floorRate = f.accepted / (f.durationMs / 1000);
  log(`submit: bai ${Math.round(baiRate)}/s (${b.errors} errors)`);
  // The figure (docs/benchmarks.md, "Round two: group-committed submits"): bai's accepted/s
  // over the floor's in this run (≥ 1.0 is the target, ≥ 3 the goal), and the transactions each
  // accepted session cost (group commit puts many sessions in one).
  const ratio = floorRate > 0 ? baiRate / floorRate : 0;
  log(
    `submit: accepted/s bai ÷ floor = ${ratio.toFixed(2)}× (target ≥ 1.0×, goal ≥ 3×); ` +
      `PostgreSQL transactions per accepted session: bai ${bCounters.pgTransactions.toFixed(2)}, floor ${f.counters.pgTransactions.toFixed(2)}`,
  );
  const throughput: Row = {
    bench: 'submit',
    metric: `accepted/s, ${clients} clients × ${durationMs / 1000} s`,
    unit: '/s',
    bai: b.perSecond,
    baseline: f.perSecond,
    baselineName: 'INSERT + queue add loop',
    // A throughput: the ratio says how many times slower bai is than the floor.
    ratioMedian: b.perSecond.median > 0 ? f.perSecond.median / b.perSecond.median : null,
    ratioP95: null,
    target: '≤ 1.0× (≥ the floor)',
    met: baiRate >= floorRate,
  };
  const vsFloor: Row = {
    bench: 'submit',
    metric: 'accepted/s bai ÷ floor (mean rates)',
    unit: '×',
    bai: ratio,
    baseline: null,
    baselineName: 'INSERT + queue add loop',
    ratioMedian: null,
    ratioP95: null,
    target: '≥ 1.0× (goal ≥ 3×)',
    met: ratio >= 1,
  };
  const transactions = lowerIsBetter(
    {
      bench: 'submit',
      metric: 'PostgreSQL transactions per accepted session',
      unit: '',
      bai: bCounters.pgTransactions,
      baseline: f.counters.pgTransactions,
      baselineName: 'INSERT + queue add loop',
      target: '',
    },
    () => null,
  );
  return {
    result: {
      name: 'submit',
      rows: [
        throughput,
        vsFloor,
        transactions,
        lowerIsBetter(
          {
            bench: 'submit',
            metric: 'request latency under load',
            unit: 'ms',
            bai: b.latency,
            baseline: f.latency,
            baselineName: 'INSERT + queue add',
            target: '',
          },
          () => null,
        ),
      ],
      extra: {
        baiAccepted: b.accepted,
        baiErrors: b.errors,
        baiRate,
        floorAccepted: f.accepted,
        floorRate,
        cpuSeconds: { floor: fCpu, bai: bCpu },
        perSession: { floor: f.counters, bai: bCounters },
        ...(trace ? { trace } : {}),
      },
      summaryLines: [
        summaryLine(
          {
            figure: 'submits/s vs the plain INSERT loop',
            unit: '/s',
            bai: baiRate,
            baseline: floorRate,
            baselineName: 'INSERT + queue add loop',
          },
          { ratioAtLeast: 1.0 },
        ),
      ],
    },
    rssUnderLoad: rss,
  };
}
