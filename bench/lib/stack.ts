import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { clientOf, type ApiClient } from '../../src/cli/client.js';
import { agentAnswers } from '../../src/cli/stack-records.js';
import { CpuMeter } from './cpu.js';
import { pgssSettings } from './pgss.js';
import { DockerAdapter } from '../../src/docker/docker-adapter.js';
import type { ContainerSpec } from '../../src/domain/container-plan.js';
import { dockerLogOptions } from '../../src/domain/output-tail.js';
import { newAccessKey, newSecret } from '../../src/persistence/catalog-store.js';
import { openDb, type Db } from '../../src/persistence/db.js';
import { isAlive, sleep, stopPid, waitUntil } from '../../src/stack/process-util.js';
import { freePort } from '../../src/stack/ports.js';
import { PYTHON_IMAGE } from '../../src/stack/python-image.js';
import { startServiceSet } from '../../src/stack/service-set.js';
import type { Service } from '../../src/stack/services.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');

/** The application name of the bench's own PostgreSQL connections. */
const BENCH_APP = 'bai-bench';

/** Agent capacity for the benchmarks: 4 cpu, so exactly 4 default sessions (1 cpu each) fit. */
export const AGENT_CPU = 4;
export const AGENT_MEM = 8 * 1024 ** 3;

export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** Its stdout log lines that say a session was released (the starts_at bench's breakdown). */
  releasedLines: string[];
  stop(): Promise<void>;
}

/**
 * What every benchmark runs against: the services of `npm test` (PostgreSQL, Redis, a Docker
 * engine of our own, the python image), and a manager and an agent as CHILD processes
 * (`node bin/bai.js manager|agent`), so their resident memory is their own.
 */
export interface BenchStack {
  base: string;
  pg: Service;
  redis: Service;
  docker: Service;
  image: string;
  manager: Child;
  managerUrl: string;
  agent: Child;
  agentId: string;
  prefix: string;
  accessKey: string;
  secretKey: string;
  client: ApiClient;
  /** A connection to the manager's database, for reading timestamps. */
  db: Db;
  dockerApi: DockerAdapter;
  close(): Promise<void>;
}

/**
 * The environment of a `bai` CLI child run against the bench stack: only PATH, the stack's
 * endpoint and keypair, and a state folder of its own (no .bai/env or config file of the host).
 */
export function cliEnv(stack: BenchStack, stateDir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    BACKEND_ENDPOINT: stack.managerUrl,
    BACKEND_ACCESS_KEY: stack.accessKey,
    BACKEND_SECRET_KEY: stack.secretKey,
    BAI_STATE_DIR: stateDir,
  };
}

/** Resident memory of a process in MB (VmRSS of /proc/<pid>/status). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Starts `node bin/bai.js ARGS` as a child and resolves once it prints its ready line. */
export function spawnBai(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
): Promise<{ child: Child; ready: Record<string, unknown> }> {
  const log = openSync(join(logDir, `${name}.log`), 'a');
  // BENCH_PROFILE_DIR: write a V8 CPU profile of each child there (read with Chrome DevTools).
  const prof = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  // BENCH_NODE_FLAGS: node's own flags for both children, e.g. a V8 flag to compare (space-separated).
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...flags, ...prof, join(root, 'bin/bai.js'), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', log],
  });
  const pid = proc.pid;
  if (!pid) throw new Error(`could not start ${name}`);
  const child: Child = {
    name,
    pid,
    proc,
    releasedLines: [],
    async stop() {
      // SIGTERM drains; a second one makes `bai` exit at once (and still write a CPU profile).
      const t0 = Date.now();
      if (isAlive(pid)) process.kill(pid, 'SIGTERM');
      while (isAlive(pid) && Date.now() - t0 < 10_000) await sleep(50);
      if (isAlive(pid)) {
        process.stderr.write(`${name} still runs 10 s after SIGTERM: sending a second one\n`);
        process.kill(pid, 'SIGTERM');
      }
      await stopPid(pid, 5_000);
    },
  };
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      // Nobody will stop a child that never got ready: stop it here, or it outlives the bench.
      proc.kill('SIGKILL');
      rej(new Error(`${name} not ready in 60 s; see ${logDir}/${name}.log`));
    }, 60_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${name} exited (${code}); see ${logDir}/${name}.log`));
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"session released"')) child.releasedLines.push(line);
      try {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (msg.ready) {
          clearTimeout(timer);
          proc.removeAllListeners('exit');
          res({ child, ready: msg });
        }
      } catch {
        /* not the ready line */
      }
    });
  });
}

export async function startBenchStack(log: (msg: string) => void): Promise<BenchStack> {
  const services = await startServiceSet('bai-bench-', log, { settings: pgssSettings() });
  const { base, pg, redis, docker } = services;
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        log(`stopping: ${String(err)}`);
      }
    }
    await services.stop();
  };
  try {
    const logDir = join(base, 'logs');
    mkdirSync(logDir, { recursive: true });
    const prefix = 'bench';
    const accessKey = newAccessKey();
    const secretKey = newSecret();
    const port = await freePort();
    const m = await spawnBai(
      'manager',
      ['manager'],
      {
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        BAI_QUEUE_PREFIX: prefix,
        BAI_MANAGER_PORT: String(port),
        BAI_STATE_DIR: join(base, 'state'),
        BAI_SEED_ACCESS_KEY: accessKey,
        BAI_SEED_SECRET_KEY: secretKey,
      },
      logDir,
    );
    started.push(m.child);
    const managerUrl = String(m.ready.url);
    const agentId = 'bench-a1';
    const a = await spawnBai(
      'agent',
      ['agent'],
      {
        REDIS_URL: redis.url,
        BAI_QUEUE_PREFIX: prefix,
        DOCKER_HOST: docker.url,
        BAI_AGENT_ID: agentId,
        BAI_AGENT_NETWORK_MODE: 'none', // the agent's default, as users run it
        BAI_AGENT_CPU: String(AGENT_CPU),
        BAI_AGENT_MEM: String(AGENT_MEM),
        BAI_STATE_DIR: join(base, 'state'),
      },
      logDir,
    );
    started.splice(started.length - 1, 0, a.child); // stop the agent before the manager
    // Named, so that the CPU of the backends serving the bench's own reads is told apart.
    const named = new URL(pg.url);
    named.searchParams.set('application_name', BENCH_APP);
    const db = openDb(named.href, { min: 0, max: 8 });
    started.push({ stop: () => db.destroy() });
    const client = clientOf(managerUrl, { accessKey, secretKey });
    await waitUntil(
      'the agent to register with the manager',
      () => agentAnswers(managerUrl, { accessKey, secretKey }, agentId),
      60_000,
    );
    return {
      base,
      pg,
      redis,
      docker,
      image: PYTHON_IMAGE,
      manager: m.child,
      managerUrl,
      agent: a.child,
      agentId,
      prefix,
      accessKey,
      secretKey,
      client,
      db,
      dockerApi: new DockerAdapter(docker.url),
      close: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Runs a command to its end; resolves with its wall time in ms (rejects on a non-zero exit). */
export function timed(cmd: string, args: string[]): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    p.on('error', rej);
    p.on('exit', (code) => {
      if (code === 0) res(performance.now() - t0);
      else rej(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

/** The PostgreSQL backends serving the bench's own connections now (their CPU is not bai's). */
export async function benchBackends(stack: BenchStack): Promise<Set<number>> {
  const r = (await stack.db.raw('SELECT pid FROM pg_stat_activity WHERE application_name = ?', [
    BENCH_APP,
  ])) as { rows: { pid: number }[] };
  return new Set(r.rows.map((x) => x.pid));
}

/** A CPU meter over the stack's processes (see cpu.ts). */
export function cpuMeter(stack: BenchStack): CpuMeter {
  return new CpuMeter(
    {
      manager: stack.manager.pid,
      agent: stack.agent.pid,
      postgres: stack.pg.pid,
      redis: stack.redis.pid,
      dockerd: stack.docker.pid,
    },
    () => benchBackends(stack),
  );
}

/** The baseline's container: `true` in the bench image, limited like a bai kernel of `cpu`. */
export function baselineContainer(
  stack: BenchStack,
  name: string,
  cpu: number,
  memoryBytes: number,
): ContainerSpec {
  return {
    name,
    image: stack.image,
    cmd: ['true'],
    env: {},
    labels: { 'ai.bai.bench': 'true' },
    workingDir: '/',
    hostname: 'bench',
    nanoCpus: cpu * 1e9,
    memoryBytes,
    pidsLimit: 1024,
    shmBytes: null,
    networkMode: 'default',
    networkAliases: [],
    binds: [],
    capAdd: [],
    logOptions: dockerLogOptions(4 * 1024 * 1024),
  };
}
