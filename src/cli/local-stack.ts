import { existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newAccessKey, newSecret } from '../persistence/catalog-store.js';
import { freePort } from '../stack/ports.js';
import { isAlive, launch, run, stopPid, waitUntil, which } from '../stack/process-util.js';
import { ensurePythonImage } from '../stack/python-image.js';
import { startDockerd, startRedis, writeEnvFile } from '../stack/services.js';
import { readEnvFile } from './client.js';

/** What `bai up` started, by pid, so `bai down` stops exactly that. */
export interface StackState {
  endpoint: string;
  pids: { name: string; pid: number }[];
  dockerHost: string;
}

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/bai.js');

function dockerAnswers(host: string): boolean {
  try {
    run('docker', ['-H', host, 'version', '--format', '{{.Server.Version}}']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the whole stack on this machine (DESIGN.md, Defaults): Redis as a child process when
 * REDIS_URL is unset, the local Docker engine (our own dockerd under the state folder when none
 * answers and this is root), the python image, the manager (embedded PGlite when DATABASE_URL
 * is unset) and one agent. Writes .bai/env and .bai/stack.json.
 */
export async function stackUp(
  stateDir: string,
  env: NodeJS.ProcessEnv,
  say: (s: string) => void,
): Promise<StackState & { accessKey: string; secretKey: string }> {
  mkdirSync(stateDir, { recursive: true });
  const statePath = join(stateDir, 'stack.json');
  if (existsSync(statePath)) {
    const old = JSON.parse(readFileSync(statePath, 'utf8')) as StackState;
    if (old.pids.every((p) => isAlive(p.pid))) {
      const e = readEnvFile(join(stateDir, 'env'));
      say(`bai is already up at ${old.endpoint}`);
      return { ...old, accessKey: e.BACKEND_ACCESS_KEY ?? '', secretKey: e.BACKEND_SECRET_KEY ?? '' };
    }
    await stackDown(stateDir, () => {});
  }
  const pids: StackState['pids'] = [];
  const save = (endpoint: string, dockerHost: string) =>
    writeFileSync(statePath, JSON.stringify({ endpoint, pids, dockerHost } satisfies StackState, null, 2));
  try {
    let redisUrl = env.REDIS_URL;
    if (!redisUrl) {
      const redis = await startRedis(join(stateDir, 'redis'), { durable: true });
      pids.push({ name: 'redis', pid: redis.pid });
      redisUrl = redis.url;
      say(`redis-server started (${redisUrl})`);
    }
    let dockerHost = env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
    let networkMode = env.BAI_AGENT_NETWORK_MODE ?? 'none';
    if (!dockerAnswers(dockerHost)) {
      if (process.getuid?.() !== 0 || !which('dockerd')) {
        throw new Error(
          `No Docker engine answers at ${dockerHost}. Start one (sudo systemctl start docker, or run dockerd) or set DOCKER_HOST, then run bai up again.`,
        );
      }
      const dockerd = await startDockerd(join(stateDir, 'docker'), { poolOctet: 231 });
      pids.push({ name: 'dockerd', pid: dockerd.pid });
      dockerHost = dockerd.url;
      networkMode = env.BAI_AGENT_NETWORK_MODE ?? 'default'; // no default bridge: the default mode is loopback only
      say(`dockerd started (${dockerHost})`);
    }
    save('', dockerHost);
    ensurePythonImage(dockerHost, say);

    const oldEnv = readEnvFile(join(stateDir, 'env'));
    const accessKey = oldEnv.BACKEND_ACCESS_KEY ?? newAccessKey();
    const secretKey = oldEnv.BACKEND_SECRET_KEY ?? newSecret();
    const port = env.BAI_MANAGER_PORT ? Number(env.BAI_MANAGER_PORT) : await portOr(8091);
    const common = { ...env, BAI_STATE_DIR: stateDir, REDIS_URL: redisUrl };
    const managerPid = launch(
      process.execPath,
      [BIN, 'manager'],
      openSync(join(stateDir, 'manager.log'), 'a'),
      {
        ...common,
        BAI_MANAGER_PORT: String(port),
        // The local stack's callbacks go to the developer's own machine: loopback is allowed here.
        BAI_CALLBACK_ALLOW: env.BAI_CALLBACK_ALLOW ?? '127.0.0.0/8,::1,localhost',
        BAI_SEED_ACCESS_KEY: accessKey,
        BAI_SEED_SECRET_KEY: secretKey,
      },
    );
    pids.push({ name: 'manager', pid: managerPid });
    const endpoint = `http://127.0.0.1:${port}`;
    save(endpoint, dockerHost);
    await waitUntil(
      'the manager',
      async () => {
        if (!isAlive(managerPid)) throw new Error(`the manager exited; see ${join(stateDir, 'manager.log')}`);
        const res = await fetch(`${endpoint}/`);
        return res.ok;
      },
      90_000,
    );
    const agentLog = join(stateDir, 'agent.log');
    const logStart = existsSync(agentLog) ? statSync(agentLog).size : 0;
    const agentPid = launch(process.execPath, [BIN, 'agent'], openSync(agentLog, 'a'), {
      ...common,
      DOCKER_HOST: dockerHost,
      BAI_AGENT_ID: env.BAI_AGENT_ID ?? 'local',
      BAI_AGENT_NETWORK_MODE: networkMode,
    });
    pids.push({ name: 'agent', pid: agentPid });
    save(endpoint, dockerHost);
    // Up means ready to run: the agent has joined (it prints {"ready":true} once it has).
    await waitUntil(
      'the agent',
      async () => {
        if (!isAlive(agentPid)) throw new Error(`the agent exited; see ${agentLog}`);
        return readFileSync(agentLog, 'utf8').slice(logStart).includes('{"ready":true}');
      },
      60_000,
    );
    writeEnvFile(join(stateDir, 'env'), {
      BACKEND_ENDPOINT: endpoint,
      BACKEND_ACCESS_KEY: accessKey,
      BACKEND_SECRET_KEY: secretKey,
    });
    return { endpoint, pids, dockerHost, accessKey, secretKey };
  } catch (err) {
    await stopAll(pids);
    throw err;
  }
}

async function portOr(preferred: number): Promise<number> {
  const ok = await new Promise<boolean>((resolve) => {
    fetch(`http://127.0.0.1:${preferred}/`)
      .then(() => resolve(false))
      .catch(() => resolve(true));
  });
  return ok ? preferred : freePort();
}

async function stopAll(pids: StackState['pids']): Promise<void> {
  // Agent first (containers stay for re-adoption), then the manager, then the services.
  const order = ['agent', 'manager', 'redis', 'dockerd'];
  for (const name of order) {
    for (const p of pids.filter((x) => x.name === name))
      await stopPid(p.pid, name === 'dockerd' ? 20_000 : 10_000);
  }
}

/** Stops what `bai up` started, by pid. State (database, image cache) stays for the next `bai up`. */
export async function stackDown(stateDir: string, say: (s: string) => void): Promise<boolean> {
  const statePath = join(stateDir, 'stack.json');
  if (!existsSync(statePath)) return false;
  const st = JSON.parse(readFileSync(statePath, 'utf8')) as StackState;
  await stopAll(st.pids);
  for (const p of st.pids) say(`stopped ${p.name} (pid ${p.pid})`);
  writeFileSync(statePath, JSON.stringify({ ...st, pids: [] }, null, 2));
  return true;
}

export function stackStatus(stateDir: string): (StackState & { alive: Record<string, boolean> }) | null {
  const statePath = join(stateDir, 'stack.json');
  if (!existsSync(statePath)) return null;
  const st = JSON.parse(readFileSync(statePath, 'utf8')) as StackState;
  return { ...st, alive: Object.fromEntries(st.pids.map((p) => [p.name, isAlive(p.pid)])) };
}
