import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ: clock ticks per second on Linux

/** CPU seconds a process has used so far, all and in the kernel; 0 when it is gone. */
function procCpu(pid: number): { all: number; sys: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const sys = Number(f[12]) / TICK; // stime
    return { all: Number(f[11]) / TICK + sys, sys }; // utime + stime
  } catch {
    return { all: 0, sys: 0 };
  }
}

function ppidOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/** The process and all its live descendants. */
function tree(root: number): number[] {
  const all = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const kids = new Map<number, number[]>();
  for (const p of all) {
    const pp = ppidOf(p);
    kids.set(pp, [...(kids.get(pp) ?? []), p]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** Busy CPU seconds of the whole machine (every core), from /proc/stat. */
function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return (f.reduce((a, b) => a + b, 0) - idle) / TICK;
}

export type CpuGroups = Record<string, number>;

/**
 * CPU seconds used per component over an interval. Process trees are sampled at the end and
 * at the start; processes that came and went in between (short-lived container shims, docker
 * CLIs) are not in their trees but are in "machine". PostgreSQL backends that live through the
 * interval (pooled connections) are counted.
 */
export class CpuMeter {
  private start: {
    groups: Map<string, Map<number, { all: number; sys: number }>>;
    machine: number;
    self: number;
  } | null = null;
  /** Of the last interval's figures, the seconds spent in the kernel (system time) per component. */
  system: CpuGroups = {};

  /**
   * `benchBackends`: the PostgreSQL backends serving the bench's own connections (its polls) when
   * the interval ends, counted apart as "bench postgres", not as the stack's PostgreSQL.
   */
  constructor(
    private readonly roots: Record<string, number>,
    private readonly benchBackends: () => Promise<ReadonlySet<number>> = () => Promise.resolve(new Set()),
  ) {}

  private snapshot() {
    const groups = new Map<string, Map<number, { all: number; sys: number }>>();
    for (const [name, root] of Object.entries(this.roots)) {
      groups.set(name, new Map(tree(root).map((p) => [p, procCpu(p)])));
    }
    const u = process.cpuUsage();
    return { groups, machine: machineBusy(), self: (u.user + u.system) / 1e6 };
  }

  begin(): void {
    this.start = this.snapshot();
  }

  async end(): Promise<CpuGroups> {
    const benchBackends = await this.benchBackends();
    const s = this.start!;
    const e = this.snapshot();
    const out: CpuGroups = {};
    let benchPg = 0;
    this.system = {};
    for (const [name, procs] of e.groups) {
      const before = s.groups.get(name)!;
      let sum = 0;
      let sys = 0;
      for (const [p, t] of procs) {
        const was = before.get(p) ?? { all: 0, sys: 0 };
        if (benchBackends.has(p)) benchPg += t.all - was.all;
        else {
          sum += t.all - was.all;
          sys += t.sys - was.sys;
        }
      }
      out[name] = Math.round(sum * 100) / 100;
      this.system[name] = Math.round(sys * 100) / 100;
    }
    out['bench process'] = Math.round((e.self - s.self) * 100) / 100;
    if (benchBackends.size > 0) out['bench postgres'] = Math.round(benchPg * 100) / 100;
    out.machine = Math.round((e.machine - s.machine) * 100) / 100;
    return out;
  }
}
