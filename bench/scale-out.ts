import { sleep } from '../src/stack/process-util.js';
import { baiDrain } from './drain.js';
import { startExtraAgent, type ExtraAgent } from './lib/agents.js';
import { CounterMeter, type PerUnit } from './lib/counters.js';
import { CpuMeter, type CpuGroups } from './lib/cpu.js';
import { lowerIsBetter, type BenchResult, type Row } from './lib/result.js';
import { benchBackends, type BenchStack } from './lib/stack.js';

interface SizeRun {
  agents: number;
  sessions: number;
  totalMs: number;
  perSecond: number;
  /** CPU ms per drained session, per component (agents and engines summed over all). */
  cpuMsPerSession: Record<string, number>;
  perSession: PerUnit;
  cpuSeconds: CpuGroups;
}

function meterFor(stack: BenchStack, extras: ExtraAgent[]): CpuMeter {
  const roots: Record<string, number> = {
    manager: stack.manager.pid,
    postgres: stack.pg.pid,
    redis: stack.redis.pid,
    agent1: stack.agent.pid,
    dockerd1: stack.docker.pid,
  };
  extras.forEach((x, i) => {
    roots[`agent${i + 2}`] = x.agent.pid;
    roots[`dockerd${i + 2}`] = x.docker.pid;
  });
  return new CpuMeter(roots, () => benchBackends(stack));
}

/** Sums the groups whose name starts with each prefix, in ms per session. */
function perSessionMs(cpu: CpuGroups, n: number): Record<string, number> {
  const sum = (prefix: string) =>
    Object.entries(cpu)
      .filter(([k]) => k.startsWith(prefix))
      .reduce((a, [, v]) => a + v, 0);
  const ms = (s: number) => Math.round((s * 1000 * 10) / n) / 10;
  return {
    manager: ms(sum('manager')),
    postgres: ms(sum('postgres')),
    redis: ms(sum('redis')),
    agents: ms(sum('agent')),
    dockerds: ms(sum('dockerd')),
    machine: ms(cpu.machine ?? 0),
  };
}

/** Waits until no bai container is left on the extra engines (the main one baiDrain checks). */
async function extrasIdle(extras: ExtraAgent[]): Promise<void> {
  const until = Date.now() + 300_000;
  for (;;) {
    const left = await Promise.all(extras.map((x) => x.dockerApi.list(['ai.bai.managed=true'])));
    if (left.every((l) => l.length === 0)) return;
    if (Date.now() > until) throw new Error('scale-out: containers not removed');
    await sleep(200);
  }
}

/**
 * The same drain (`sessions` `true` sessions, submitted as the drain bench does) with 1, 2, 4…
 * agents, each on a Docker engine of its own on this one machine; per size: drain time, and CPU
 * per session of manager, PostgreSQL, Redis, the agents and the engines, with PostgreSQL
 * transactions and Redis commands per session. The baseline of each size is the one-agent run
 * of the same bench: a ratio under 1 is the gain of spreading out.
 */
export async function runScaleOut(
  stack: BenchStack,
  sizes = [1, 2, 4],
  sessions = 60,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  const extras: ExtraAgent[] = [];
  const runs: SizeRun[] = [];
  try {
    for (const size of [...sizes].sort((a, b) => a - b)) {
      while (extras.length + 1 < size) {
        extras.push(await startExtraAgent(stack, extras.length + 2, log));
        log(`scale-out: agent ${extras.length + 1} up on its own engine`);
      }
      await sleep(2_000); // let the new agents' first heartbeats and the dispatcher settle
      const meter = meterFor(stack, extras);
      const counters = new CounterMeter(stack);
      await counters.begin();
      meter.begin();
      const d = await baiDrain(stack, sessions);
      await extrasIdle(extras);
      const cpu = await meter.end();
      const perSession = await counters.end(sessions);
      const run: SizeRun = {
        agents: size,
        sessions,
        totalMs: d.totalMs,
        perSecond: Math.round((sessions / (d.totalMs / 1000)) * 10) / 10,
        cpuMsPerSession: perSessionMs(cpu, sessions),
        perSession,
        cpuSeconds: cpu,
      };
      runs.push(run);
      log(
        `scale-out: ${size} agent(s): ${sessions} in ${d.totalMs} ms; CPU ms/session ${JSON.stringify(run.cpuMsPerSession)}; ` +
          `pg tx ${perSession.pgTransactions}, redis ${perSession.redisCommands} per session`,
      );
    }
  } finally {
    for (const x of extras.reverse())
      await x.stop().catch((err) => log(`scale-out: stopping: ${String(err)}`));
  }
  const one = runs.find((r) => r.agents === 1) ?? null;
  const rows: Row[] = runs.flatMap((r) => [
    lowerIsBetter(
      {
        bench: 'scale-out',
        metric: `drain ${sessions}, ${r.agents} agent(s)/engine(s)`,
        unit: 'ms',
        bai: r.totalMs,
        baseline: one?.totalMs ?? null,
        baselineName: '1 agent',
        target: '',
      },
      () => null,
    ),
    lowerIsBetter(
      {
        bench: 'scale-out',
        metric: `manager+pg+redis CPU/session, ${r.agents} agent(s)`,
        unit: 'ms',
        bai: r.cpuMsPerSession.manager! + r.cpuMsPerSession.postgres! + r.cpuMsPerSession.redis!,
        baseline: r.cpuMsPerSession.dockerds!,
        baselineName: 'dockerds/session',
        target: '',
      },
      () => null,
    ),
  ]);
  return { name: 'scale-out', rows, extra: { sessions, runs } };
}
