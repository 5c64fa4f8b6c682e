import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { isAlive, launch, readPid, run, runAsync, sleep, stopPid, waitUntil, which } from './process-util.js';
import { freePort } from './ports.js';

/** A service this machine runs for bai: where it answers and how to stop it (by its pid). */
export interface Service {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const PG_BIN_CANDIDATES = [
  '/usr/lib/postgresql/15/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/17/bin',
];

export function postgresBinDir(): string | null {
  const fromConfig = which('pg_config') ? run('pg_config', ['--bindir']).trim() : '';
  for (const dir of [fromConfig, ...PG_BIN_CANDIDATES])
    if (dir && existsSync(join(dir, 'initdb'))) return dir;
  return null;
}

/** A PostgreSQL server that can also be stopped and started again on the same data (fault tests). */
export interface PostgresService extends Service {
  /** Fast shutdown (SIGINT to the postmaster, by its pid): clients are cut off, the data stays. */
  halt(): Promise<void>;
  /** Starts it again on the same data folder and port. */
  resume(): Promise<void>;
}

export interface PostgresOptions {
  /**
   * Serve TLS with this certificate and key (PEM files; copied into the data folder, 0600 and
   * owned by the server's user as PostgreSQL demands), and accept TCP clients only over TLS.
   */
  tls?: { certFile: string; keyFile: string };
  /** More server settings (`name=value`, each passed as `-c`), e.g. a benchmark's statistics. */
  settings?: string[];
}

/**
 * A throw-away PostgreSQL server in `dir` (fsync off: tests only). PostgreSQL refuses to run as
 * root, so as root the data folder belongs to the `postgres` user and commands run as it.
 */
export async function startPostgres(dir: string, opts: PostgresOptions = {}): Promise<PostgresService> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found: apt-get install postgresql-15');
  mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? Number(run('id', ['-u', 'postgres']).trim()) : null;
  const gid = asRoot ? Number(run('id', ['-g', 'postgres']).trim()) : null;
  if (uid !== null && gid !== null) chownSync(dir, uid, gid);
  const as = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const data = join(dir, 'data');
  run(...as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']));
  const port = await freePort();
  let serverOpts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
  for (const setting of opts.settings ?? []) serverOpts += ` -c ${setting}`;
  if (opts.tls) {
    const cert = join(data, 'server.crt');
    const key = join(data, 'server.key');
    copyFileSync(opts.tls.certFile, cert);
    copyFileSync(opts.tls.keyFile, key);
    chmodSync(key, 0o600);
    if (uid !== null && gid !== null) for (const f of [cert, key]) chownSync(f, uid, gid);
    // TCP only with TLS: a client that does not ask for it is refused.
    writeFileSync(
      join(data, 'pg_hba.conf'),
      'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n',
    );
    serverOpts += ` -c ssl=on -c ssl_cert_file=${cert} -c ssl_key_file=${key}`;
  }
  const start = (): number => {
    run(
      ...as(join(bin, 'pg_ctl'), [
        '-D',
        data,
        '-l',
        join(dir, 'postgres.log'),
        '-o',
        serverOpts,
        '-w',
        '-t',
        '60',
        'start',
      ]),
    );
    const pid = readPid(join(data, 'postmaster.pid'));
    if (!pid) throw new Error('PostgreSQL did not write its pid');
    return pid;
  };
  let pid = start();
  return {
    name: 'postgres',
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get pid() {
      return pid;
    },
    async halt() {
      if (isAlive(pid)) process.kill(pid, 'SIGINT');
      await waitUntil('PostgreSQL to stop', () => !isAlive(pid), 30_000);
    },
    async resume() {
      pid = start();
    },
    async stop() {
      await stopPid(pid, 15_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisOptions {
  /** Append-only file with fsync always: data survives kill -9 (crash tests). */
  durable?: boolean;
  port?: number;
  /** TLS only (no plain port), with this certificate, key and CA; clients need no certificate. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Start as a replica of the Redis on this port (127.0.0.1). */
  replicaOf?: number;
}

export async function startRedis(dir: string, opts: RedisOptions = {}): Promise<Service> {
  if (!which('redis-server')) throw new Error('redis-server not found: apt-get install redis-server');
  mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
  ];
  args.push(...(opts.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  if (opts.tls) {
    args[0] = '--tls-port';
    args.push(
      '--port',
      '0',
      '--tls-cert-file',
      opts.tls.certFile,
      '--tls-key-file',
      opts.tls.keyFile,
      '--tls-ca-cert-file',
      opts.tls.caFile,
      '--tls-auth-clients',
      'no',
    );
  }
  if (opts.replicaOf) args.push('--replicaof', '127.0.0.1', String(opts.replicaOf));
  const pid = launch('redis-server', args, openSync(join(dir, 'redis.log'), 'a'));
  await waitUntil('redis', () => tcpAnswers(port), 10_000);
  return {
    name: 'redis',
    url: `${opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    pid,
    async stop() {
      await stopPid(pid);
    },
  };
}

/**
 * A Redis Sentinel watching the primary on `masterPort` as `name`; with one sentinel the quorum
 * is 1, so it alone fails over (tests; production runs three on separate hosts).
 */
export async function startSentinel(
  dir: string,
  opts: { masterPort: number; name: string; downAfterMs?: number },
): Promise<Service> {
  if (!which('redis-server')) throw new Error('redis-server not found: apt-get install redis-server');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf'); // rewritten by the sentinel as it learns
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${opts.name} 127.0.0.1 ${opts.masterPort} 1`,
      `sentinel down-after-milliseconds ${opts.name} ${opts.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${opts.name} 10000`,
      `sentinel parallel-syncs ${opts.name} 1`,
      '',
    ].join('\n'),
  );
  const pid = launch('redis-server', [conf, '--sentinel'], openSync(join(dir, 'sentinel.log'), 'a'));
  await waitUntil('redis sentinel', () => tcpAnswers(port), 10_000);
  return {
    name: 'redis-sentinel',
    url: `redis+sentinel://127.0.0.1:${port}/${opts.name}`,
    pid,
    async stop() {
      await stopPid(pid);
    },
  };
}

export interface DockerdOptions {
  /** Second octet of this engine's 10.x address pool, so several engines do not collide. */
  poolOctet?: number;
}

/**
 * A Docker engine of our own: its own socket, data-root, exec-root and pidfile under `dir`,
 * overlay2, no iptables and no default bridge (a container gets only loopback unless its
 * session asks for a network; cluster sessions get a bridge of their own).
 */
export async function startDockerd(dir: string, opts: DockerdOptions = {}): Promise<Service> {
  if (!which('dockerd')) throw new Error('dockerd not found: apt-get install docker.io');
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'docker.sock');
  const octet = opts.poolOctet ?? 200 + Math.floor(Math.random() * 50);
  const args = [
    '--host',
    `unix://${sock}`,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '--storage-driver=overlay2',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--default-address-pool',
    `base=10.${octet}.0.0/16,size=24`,
  ];
  // containerd writes stack dumps to TMPDIR when it is stopped: keep them in the engine's folder.
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const pid = launch('dockerd', args, openSync(join(dir, 'dockerd.log'), 'a'), {
    ...process.env,
    TMPDIR: join(dir, 'tmp'),
  });
  /** Stops the process and unmounts what it left mounted under `dir`. */
  const halt = async (): Promise<void> => {
    await stopPid(pid, 20_000);
    await sleep(100);
    try {
      run('umount', ['-R', join(dir, 'exec')]);
    } catch {
      // Expected: umount fails when nothing is mounted there.
    }
    try {
      for (const m of run('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r`])
        .split('\n')
        .filter(Boolean)) {
        run('umount', ['-l', m.trim()]);
      }
    } catch {
      // Expected: grep exits 1 when nothing of ours is left mounted.
    }
  };
  // Asked without blocking: the socket answers only once dockerd has restored its containers
  // (seconds, when restarted under them), and a test's in-process agent must go on beating.
  // Generous: on two loaded cores a restart under containers took over 30 s. An engine that
  // never answers is stopped, not left running with nobody to stop it (its log stays in `dir`).
  try {
    await waitUntil(
      'dockerd',
      async () => {
        if (!isAlive(pid)) throw new Error('dockerd exited; see its log');
        if (!existsSync(sock)) return false;
        const version = await runAsync(
          'docker',
          ['-H', `unix://${sock}`, 'version', '--format', '{{.Server.Version}}'],
          10_000,
        );
        return version.trim() !== '';
      },
      120_000,
    );
  } catch (err) {
    await halt();
    throw err;
  }
  return {
    name: 'dockerd',
    url: `unix://${sock}`,
    pid,
    async stop() {
      try {
        // Not blocking either: a test may stop an engine under a running stack (fault-agent-lost).
        const ids = (await runAsync('docker', ['-H', `unix://${sock}`, 'ps', '-aq'])).trim();
        if (ids) await runAsync('docker', ['-H', `unix://${sock}`, 'rm', '-f', ...ids.split('\n')]);
      } catch {
        // Expected: the engine is gone already, and its containers with it.
      }
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
