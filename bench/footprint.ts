import { spawn } from 'node:child_process';
import { sleep } from '../src/stack/process-util.js';
import type { BenchStack } from './lib/stack.js';
import { rssMb } from './lib/stack.js';
import { lowerIsBetter, summaryLine, type BenchResult, type Row } from './lib/result.js';
import { summarize, type Summary } from './lib/stats.js';

/** RSS of an idle bare `node` process: what any Node.js service costs before it does anything. */
async function bareNodeMb(): Promise<number> {
  const p = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(1500);
    return rssMb(p.pid!);
  } finally {
    p.kill('SIGTERM');
  }
}

/** Samples RSS of manager and agent for `ms` (every 250 ms). */
export async function sampleIdle(
  stack: BenchStack,
  ms = 3_000,
): Promise<{ manager: number[]; agent: number[] }> {
  const out = { manager: [] as number[], agent: [] as number[] };
  for (const until = Date.now() + ms; Date.now() < until;) {
    out.manager.push(rssMb(stack.manager.pid));
    out.agent.push(rssMb(stack.agent.pid));
    await sleep(250);
  }
  return out;
}

export async function footprintResult(
  idle: { manager: number[]; agent: number[] },
  load: { manager: number[]; agent: number[] },
  idleAfter: { manager: number[]; agent: number[] },
): Promise<BenchResult> {
  const base = await bareNodeMb();
  const rows: Row[] = [];
  // Issue 18's bars for an idle process: manager ≤ 100 MB (goal ≤ 80), agent ≤ 80 MB (goal ≤ 60).
  const bar = { manager: 100, agent: 80 } as const;
  const goal = { manager: 80, agent: 60 } as const;
  for (const who of ['manager', 'agent'] as const) {
    const target = `≤ ${bar[who]} MB [goal ≤ ${goal[who]} MB]`;
    const meets = (_r: number | null, v: Summary | number) =>
      (typeof v === 'number' ? v : v.median) <= bar[who];
    rows.push(
      lowerIsBetter(
        {
          bench: 'footprint',
          metric: `${who} RSS idle (fresh)`,
          unit: 'MB',
          bai: summarize(idle[who]),
          baseline: base,
          baselineName: 'bare node',
          target,
        },
        meets,
      ),
      lowerIsBetter(
        {
          bench: 'footprint',
          metric: `${who} RSS under submit load`,
          unit: 'MB',
          bai: summarize(load[who]),
          baseline: base,
          baselineName: 'bare node',
          target: '',
        },
        () => null,
      ),
      lowerIsBetter(
        {
          bench: 'footprint',
          metric: `${who} RSS idle after all runs`,
          unit: 'MB',
          bai: summarize(idleAfter[who]),
          baseline: base,
          baselineName: 'bare node',
          target,
        },
        meets,
      ),
    );
  }
  const summaryLines = (['manager', 'agent'] as const).map((who) =>
    summaryLine(
      {
        figure: `idle RSS ${who}`,
        unit: 'MB',
        bai: summarize(idle[who]).median,
        baseline: base,
        baselineName: 'bare node',
        target: `≤ ${bar[who]} MB`,
      },
      { atMost: bar[who] },
    ),
  );
  return { name: 'footprint', rows, extra: { bareNodeMb: base, idle, load, idleAfter }, summaryLines };
}
