import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityOf } from '../../src/stack/process-identity.js';
import { eventually } from './eventually.js';
import { freePort } from '../../src/stack/ports.js';
import type { TestEnv } from './env.js';

/** What `bai up --json` prints. */
export interface UpJson {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  alreadyUp: boolean;
  parts: { name: string; pid: number | null; address: string; action: string }[];
  envFile: string;
}

/** What `bai status --json` prints. */
export interface StatusJson {
  up: boolean;
  urls: { manager?: string; console?: string };
  parts: {
    name: string;
    pid: number | null;
    address: string;
    answers: boolean;
    uptimeSeconds: number | null;
  }[];
}

/**
 * The environment of `bai up` in a test: its own state folder and Redis (bai starts it), the
 * test run's Docker engine, an agent id that removeContainers(env.dockerHost, id) finds.
 */
export async function localStackEnv(
  env: TestEnv,
  stateDir: string,
  id: string,
): Promise<Record<string, string>> {
  return {
    PATH: process.env.PATH ?? '',
    BAI_STATE_DIR: stateDir,
    DOCKER_HOST: env.dockerHost,
    BAI_MANAGER_PORT: String(await freePort()),
    BAI_AGENT_ID: `t${id}-up`,
    BAI_AGENT_NETWORK_MODE: 'default',
    BAI_AGENT_CPU: '2',
    BAI_AGENT_MEM: String(2 * 1024 ** 3),
  };
}

/** The pid of each part, by name, from `bai up --json` or `bai status --json`. */
export function pidsOf(parts: { name: string; pid: number | null }[]): Record<string, number | null> {
  return Object.fromEntries(parts.map((p) => [p.name, p.pid]));
}

/** Waits until no live process has this pid (a zombie counts as gone). */
export async function waitGone(pid: number, timeoutMs = 30_000): Promise<void> {
  await eventually(() => identityOf(pid) === null, {
    timeoutMs,
    intervalMs: 50,
    message: `pid ${pid} to end`,
  });
}

/** The tail of the stack's logs, for assertion messages. */
export function stackLogs(stateDir: string): string {
  return ['manager.log', 'agent.log', 'redis/redis.log']
    .map((f) => join(stateDir, f))
    .filter((f) => existsSync(f))
    .map((f) => `\n--- ${f}\n${readFileSync(f, 'utf8').slice(-3000)}`)
    .join('');
}
