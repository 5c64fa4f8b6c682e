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

/**
 * Waits until the manager's and the agent's RSS have settled after the runs: neither moved by
 * more than 2 MB over the last 10 s (checked every second), at most `maxMs`. Right after a burst
 * the old space still holds its garbage; V8 collects it once the process has been idle a few
 * seconds (its memory reducer), so "idle" is measured after that, not 2 s after the load.
 */
export async function settleAfterLoad(stack: BenchStack, maxMs = 90_000): Promise<number> {
  const began = Date.now();
  const window: { manager: number; agent: number }[] = [];
  while (Date.now() - began < maxMs) {
    window.push({ manager: rssMb(stack.manager.pid), agent: rssMb(stack.agent.pid) });
    if (window.length > 11) window.shift();
    const still = (who: 'manager' | 'agent') => {
      const v = window.map((x) => x[who]);
      return Math.max(...v) - Math.min(...v) <= 2;
    };
    if (window.length === 11 && still('manager') && still('agent')) break;
    await sleep(1_000);
  }
  return Date.now() - began;
}

export async function footprintResult(
  idle: { manager: number[]; agent: number[] },
  load: { manager: number[]; agent: number[] },
  justAfter: { manager: number[]; agent: number[] },
  idleAfter: { manager: number[]; agent: number[] },
  settledMs: number,
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
    // One row per sampling: its metric, its samples, and whether the idle bar applies to it.
    const row = (metric: string, samples: number[], barred: boolean) =>
      lowerIsBetter(
        {
          bench: 'footprint',
          metric: `${who} RSS ${metric}`,
          unit: 'MB',
          bai: summarize(samples),
          baseline: base,
          baselineName: 'bare node',
          target: barred ? target : '',
        },
        barred ? meets : () => null,
      );
    rows.push(
      row('idle (fresh)', idle[who], true),
      row('under submit load', load[who], false),
      row('2 s after the runs', justAfter[who], false),
      row(`idle after all runs (settled in ${Math.round(settledMs / 1000)} s)`, idleAfter[who], true),
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
      },
      { atMost: bar[who] },
    ),
  );
  return {
    name: 'footprint',
    rows,
    extra: { bareNodeMb: base, idle, load, justAfter, idleAfter, settledMs },
    summaryLines,
  };
}
