import { writeFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import { LOOPBACK_HOSTS, kernelContainer, type ContainerSpec } from '../src/domain/container-plan.js';
import { CpuMeter } from './lib/cpu.js';
import { baselineContainer, type BenchStack } from './lib/stack.js';
import { lowerIsBetter, type BenchResult } from './lib/result.js';

/**
 * What bai's way of running a container costs the engine, without bai: `true` containers on the
 * bench's engine through create → start → wait → remove (the bare API sequence), against the
 * same with bai's extra calls (a list by label before the create, the output followed from the
 * start to its end, an inspect after the exit), with bai's container settings (kernelContainer:
 * environment, labels, user, the work dir's tmpfs, the hosts file, capabilities, network
 * `none`), and with both. The variants are interleaved in rounds, so that a loaded machine
 * loads all alike; the figures are the CPU of dockerd's process tree and of the whole machine
 * per container, and the wall time of a cycle.
 */
type Variant = 'api' | 'calls' | 'settings' | 'bai';
const VARIANTS: readonly Variant[] = ['api', 'calls', 'settings', 'bai'];

interface Totals {
  dockerd: number;
  machine: number;
  wallMs: number;
  n: number;
}

export async function runEngineCalls(
  stack: BenchStack,
  perRound = 10,
  rounds = 4,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  const d = stack.dockerApi;
  const hostsFile = join(stack.base, 'engine-calls-hosts');
  writeFileSync(hostsFile, LOOPBACK_HOSTS);
  let seq = 0;
  const plain = (): ContainerSpec => ({
    ...baselineContainer(stack, `bench-calls-${process.pid}-${seq++}`, 1, 256 * 1024 * 1024),
    networkMode: 'none',
  });
  const baiLike = (): ContainerSpec => {
    const kernel = {
      kernelId: `00000000-0000-4000-8000-${String(seq++).padStart(12, '0')}`,
      clusterRole: 'main' as const,
      clusterIdx: 1,
      hostname: 'main1',
      slots: { cpu: 1, mem: 256 * 1024 * 1024 },
    };
    const spec = kernelContainer({
      session: {
        sessionId: `11111111-0000-4000-8000-${String(seq).padStart(12, '0')}`,
        sessionName: `bench-calls-${seq}`,
        accessKey: 'AKIABENCHCALLS',
        attempt: 1,
        image: stack.image,
        startupCommand: 'true',
        bootstrapScript: null,
        environ: {},
        resourceOpts: {},
        kernels: [kernel],
        startsAt: null,
        batchTimeoutSec: null,
      },
      kernel,
      sessionSlots: kernel.slots,
      agentId: 'bench-calls',
      user: { uid: 1000, gid: 1000 },
      binds: [],
      network: null,
      agent: {
        networkMode: 'none',
        loopbackHostsFile: hostsFile,
        pidsLimit: 1024,
        logLimitBytes: 4 * 1024 * 1024,
      },
      hostCpus: 2,
    });
    // Labelled as the bench's own: cleaned up by name here, never taken for a session's.
    return { ...spec, name: `bench-calls-${process.pid}-${seq}`, labels: { 'ai.bai.bench': 'true' } };
  };

  const cycle = async (v: Variant): Promise<void> => {
    const calls = v === 'calls' || v === 'bai';
    if (calls) await d.list([`ai.bai.session=bench-calls-${seq}`]);
    const id = await d.createContainer(v === 'settings' || v === 'bai' ? baiLike() : plain());
    try {
      await d.start(id);
      // bai's agent copies the output as it comes (log-copier.ts); here it is read and dropped.
      const output = calls ? await d.followLogs(id) : null;
      const read = output ? finished(output.stream.resume()).catch(() => {}) : null;
      const code = await d.wait(id);
      if (code !== 0) throw new Error(`engine-calls: ${v} exited ${code}`);
      if (calls) await d.inspect(id);
      await read;
    } finally {
      await d.remove(id);
    }
  };

  for (const v of VARIANTS) await cycle(v); // first-use costs off the figures
  const totals = new Map<Variant, Totals>(
    VARIANTS.map((v) => [v, { dockerd: 0, machine: 0, wallMs: 0, n: 0 }]),
  );
  for (let r = 0; r < rounds; r++) {
    for (const v of VARIANTS) {
      const meter = new CpuMeter({ dockerd: stack.docker.pid });
      meter.begin();
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) await cycle(v);
      const wallMs = performance.now() - t0;
      const cpu = await meter.end();
      const t = totals.get(v)!;
      t.dockerd += cpu.dockerd ?? 0;
      t.machine += cpu.machine ?? 0;
      t.wallMs += wallMs;
      t.n += perRound;
    }
    log(`engine_calls: round ${r + 1}/${rounds}`);
  }
  const per = (v: Variant) => {
    const t = totals.get(v)!;
    return { dockerd: (t.dockerd * 1000) / t.n, machine: (t.machine * 1000) / t.n, wall: t.wallMs / t.n };
  };
  const api = per('api');
  for (const v of VARIANTS) {
    const p = per(v);
    log(
      `engine_calls: ${v}: dockerd ${p.dockerd.toFixed(1)} ms, machine ${p.machine.toFixed(1)} ms of CPU, ` +
        `${p.wall.toFixed(1)} ms of wall time a container`,
    );
  }
  const rows = VARIANTS.filter((v) => v !== 'api').flatMap((v) => {
    const p = per(v);
    const name = { calls: "bai's calls", settings: "bai's settings", bai: "bai's calls and settings" }[v];
    return (['dockerd', 'machine'] as const).map((what) =>
      lowerIsBetter(
        {
          bench: 'engine_calls',
          metric: `${what} CPU a container, ${name}`,
          unit: 'ms',
          bai: p[what],
          baseline: api[what],
          baselineName: 'create/start/wait/remove',
          target: '',
        },
        () => null,
      ),
    );
  });
  return { name: 'engine_calls', rows, extra: Object.fromEntries(VARIANTS.map((v) => [v, per(v)])) };
}
