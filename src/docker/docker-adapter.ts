import type Docker from 'dockerode';
import type { ContainerSpec } from '../domain/container-plan.js';
import { createBody } from './create-body.js';
import { ImagePullFailed, statusOf, wrap } from './docker-errors.js';
import type {
  ContainerState,
  ContainerSummary,
  ImageConfig,
  LogFollow,
  LogTail,
  PullProgress,
} from './docker-types.js';
import { EventLines, type EngineEvent } from './event-lines.js';
import { followLogs, logTail } from './engine-logs.js';
import { EngineHttp, engineAddress, queryOf } from './engine-http.js';

export { ImagePullFailed } from './docker-errors.js';
export type * from './docker-types.js';

/** Why a ping ended unanswered (one value: nothing is built per ping). */
const NO_ANSWER = new Error('no answer within the timeout');

function parseTime(t: string | undefined): number | null {
  if (!t || t.startsWith('0001-')) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The only importer of dockerode: promise-only calls, Docker's failures become typed errors. The
 * calls a session makes, its wait and log streams and the event stream too, go through
 * EngineHttp (kept connections); only pulls go through dockerode, which is loaded at the first
 * pull: an agent whose images are all there never loads it (~14 MB of its resident memory).
 */
export class DockerAdapter {
  private docker: Promise<Docker> | null = null;
  private readonly http: EngineHttp;

  constructor(private readonly dockerHost: string | null) {
    this.http = new EngineHttp(engineAddress(dockerHost));
  }

  /** dockerode on this engine, loaded and made at the first call. */
  private dockerode(): Promise<Docker> {
    this.docker ??= (async () => {
      await import('./dockerode-deferred.js'); // before dockerode: it defers two of its heavy modules
      const { default: Dockerode } = await import('dockerode');
      const host = this.dockerHost;
      return host ? new Dockerode(DockerAdapter.optionsOf(host)) : new Dockerode();
    })();
    return this.docker;
  }

  /** Closes the connections kept open to the engine. */
  close(): void {
    this.http.close();
  }

  private static optionsOf(host: string): Docker.DockerOptions {
    if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
    const u = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: u.hostname, port: Number(u.port || 2375), protocol: 'http' };
  }

  /** Whether the engine answers, within `timeoutMs` (a hung engine counts as away). */
  async ping(timeoutMs = 10_000): Promise<void> {
    try {
      // A timer of its own, cleared on the answer: AbortSignal.timeout fires (and builds its
      // DOMException) after every ping, answered or not, as long as its signal lives.
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(NO_ANSWER), timeoutMs);
      try {
        await this.http.call('GET', '/_ping', 'ping', undefined, ctl.signal);
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      throw wrap('Docker engine does not answer', err);
    }
  }

  /**
   * What a run needs of an image, from one inspect: its labels and its own ENTRYPOINT and CMD
   * (what a container without its own runs). Null when the engine does not have it (to be pulled).
   */
  async imageConfig(ref: string): Promise<ImageConfig | null> {
    try {
      const info = await this.http.call<{ Config?: unknown }>('GET', `/images/${ref}/json`, 'inspect image');
      const c = info?.Config as {
        Labels?: Record<string, string> | null;
        Entrypoint?: unknown;
        Cmd?: unknown;
      } | null;
      const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : null);
      return { labels: c?.Labels ?? {}, entrypoint: list(c?.Entrypoint), cmd: list(c?.Cmd) };
    } catch (err) {
      if (statusOf(err) === 404) return null; // not on this engine: to be pulled
      throw wrap(`inspect image ${ref}`, err);
    }
  }

  /** Whether `path` exists in a (created or running) container's filesystem. */
  async pathExists(id: string, path: string): Promise<boolean> {
    try {
      // A HEAD answer: drained, so its connection is free again.
      await this.http.call('HEAD', `/containers/${id}/archive${queryOf({ path })}`, 'stat path');
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false; // no such path (or container: the caller's next call says)
      throw wrap(`stat ${path} in container ${id.slice(0, 12)}`, err);
    }
  }

  /** The command lines (`ps -o args`) of a running container's processes. */
  async processArgs(id: string): Promise<string[]> {
    try {
      const top =
        (await this.http.call<{ Titles?: string[]; Processes?: string[][] }>(
          'GET',
          `/containers/${id}/top${queryOf({ ps_args: '-o pid,args' })}`,
          'top',
        )) ?? {};
      const col = (top.Titles ?? []).indexOf('COMMAND');
      return (top.Processes ?? []).map((p) => p[col >= 0 ? col : p.length - 1] ?? '');
    } catch (err) {
      throw wrap(`processes of container ${id.slice(0, 12)}`, err);
    }
  }

  /**
   * Pulls an image, reporting progress. A failure inside the progress stream (the engine answers
   * 200 and reports the error in the stream) is an ImagePullFailed with the registry's message.
   */
  async pull(
    ref: string,
    auth: { username: string; password: string; serveraddress: string } | null,
    onProgress: (p: PullProgress) => void = () => {},
  ): Promise<void> {
    const docker = await this.dockerode();
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await docker.pull(ref, auth ? { authconfig: auth } : {})) as NodeJS.ReadableStream;
    } catch (err) {
      const msg = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message;
      throw new ImagePullFailed(`pull ${ref}: ${msg}`);
    }
    const layers = new Map<string, { current: number; total: number }>();
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
          if (err) return reject(new ImagePullFailed(`pull ${ref}: ${err.message}`));
          const failed = output.find((o) => o.error || o.errorDetail);
          if (failed)
            return reject(new ImagePullFailed(`pull ${ref}: ${failed.errorDetail?.message ?? failed.error}`));
          resolve();
        },
        (ev: { id?: string; status?: string; progressDetail?: { current?: number; total?: number } }) => {
          if (ev.id && ev.progressDetail?.total) {
            layers.set(ev.id, { current: ev.progressDetail.current ?? 0, total: ev.progressDetail.total });
          }
          let current = 0;
          let total = 0;
          for (const l of layers.values()) {
            current += l.current;
            total += l.total;
          }
          onProgress({ current, total, status: ev.status ?? '' });
        },
      );
    });
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    try {
      const path = `/containers/create${queryOf({ name: spec.name })}`;
      const c = await this.http.call<{ Id: string }>('POST', path, 'create', createBody(spec));
      if (!c?.Id) throw new Error('the engine answered without a container id');
      return c.Id;
    } catch (err) {
      throw wrap(`create container ${spec.name}`, err);
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.http.call('POST', `/containers/${id}/start`, 'start');
    } catch (err) {
      if (statusOf(err) === 304) return; // already started
      throw wrap(`start container ${id.slice(0, 12)}`, err);
    }
  }

  /**
   * Resolves with the exit code when the container stops. The signal ends the wait without
   * touching the container: a stopping agent must not be held open by the runs it leaves behind,
   * and an engine that died under the wait must not hold its watcher (the call settles on the
   * abort whatever its connection does: docker-modem left a response cut after its headers
   * pending for ever).
   */
  async wait(id: string, signal?: AbortSignal): Promise<number> {
    try {
      const res = await this.http.call<{ StatusCode?: number }>(
        'POST',
        `/containers/${id}/wait`,
        'wait',
        undefined,
        signal,
      );
      if (typeof res?.StatusCode !== 'number') throw new Error('the engine answered without a status code');
      return res.StatusCode;
    } catch (err) {
      throw wrap(`wait container ${id.slice(0, 12)}`, err);
    }
  }

  async inspect(id: string): Promise<ContainerState | null> {
    try {
      const info = await this.http.call<Docker.ContainerInspectInfo>(
        'GET',
        `/containers/${id}/json`,
        'inspect',
      );
      if (!info) throw new Error('the engine answered without a body');
      return {
        id: info.Id,
        running: info.State.Running,
        status: info.State.Status,
        exitCode: info.State.ExitCode,
        oomKilled: info.State.OOMKilled,
        startedAt: parseTime(info.State.StartedAt),
        finishedAt: parseTime(info.State.FinishedAt),
        labels: info.Config.Labels ?? {},
      };
    } catch (err) {
      if (statusOf(err) === 404) return null; // no such container: the caller's answer
      throw wrap(`inspect container ${id.slice(0, 12)}`, err);
    }
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(id: string, graceSeconds: number): Promise<void> {
    try {
      await this.http.call('POST', `/containers/${id}/stop${queryOf({ t: graceSeconds })}`, 'stop');
    } catch (err) {
      const s = statusOf(err);
      if (s === 304 || s === 404) return; // already stopped, or gone
      throw wrap(`stop container ${id.slice(0, 12)}`, err);
    }
  }

  async kill(id: string): Promise<void> {
    try {
      await this.http.call('POST', `/containers/${id}/kill`, 'kill');
    } catch (err) {
      const s = statusOf(err);
      if (s === 404 || s === 409 || s === 304) return; // gone, or not running: nothing to kill
      throw wrap(`kill container ${id.slice(0, 12)}`, err);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.http.call('DELETE', `/containers/${id}${queryOf({ force: true, v: true })}`, 'remove');
    } catch (err) {
      const s = statusOf(err);
      if (s === 404 || s === 409) return; // gone, or removal already in progress
      throw wrap(`remove container ${id.slice(0, 12)}`, err);
    }
  }

  /** The last `limitBytes` of stdout and stderr, read as a stream (engine-logs.ts). */
  logTail(id: string, limitBytes: number): Promise<LogTail> {
    return logTail(this.http, id, limitBytes);
  }

  /** Follows a container's output, from `sinceSec` (Unix seconds) when given (engine-logs.ts). */
  followLogs(id: string, sinceSec?: number): Promise<LogFollow> {
    return followLogs(this.http, id, sinceSec);
  }

  /**
   * Follows the engine's container events for these labels, of these actions only (`die`…: the
   * engine sends nothing else, where each container's create, start and destroy were a line
   * each to wake the agent and parse). `onEnd` is called once when the stream ends or fails (the
   * engine went away or restarted); the returned function stops it.
   */
  async events(
    labelFilters: string[],
    actions: string[],
    onEvent: (ev: EngineEvent) => void,
    onEnd: () => void,
  ): Promise<() => void> {
    let stream: NodeJS.ReadableStream & { destroy(): void };
    try {
      const filters = { type: ['container'], label: labelFilters, event: actions };
      stream = await this.http.open('GET', `/events${queryOf({ filters })}`, 'follow events');
    } catch (err) {
      throw wrap('follow events', err);
    }
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      onEnd();
    };
    const lines = new EventLines(onEvent);
    stream.on('data', (b: Buffer) => lines.push(b.toString('utf8')));
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    return () => {
      ended = true;
      stream.destroy();
    };
  }

  async list(labelFilters: string[]): Promise<ContainerSummary[]> {
    try {
      const list =
        (await this.http.call<Docker.ContainerInfo[]>(
          'GET',
          `/containers/json${queryOf({ all: true, filters: { label: labelFilters } })}`,
          'list',
        )) ?? [];
      return list.map((c) => ({ id: c.Id, state: c.State, labels: c.Labels ?? {} }));
    } catch (err) {
      throw wrap('list containers', err);
    }
  }

  async createNetwork(name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.http.call('POST', '/networks/create', 'create network', {
        Name: name,
        Driver: 'bridge',
        Internal: true,
        Labels: labels,
        CheckDuplicate: true,
      });
    } catch (err) {
      if (statusOf(err) === 409) return; // it exists already (a start run again)
      throw wrap(`create network ${name}`, err);
    }
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      await this.http.call('DELETE', `/networks/${name}`, 'remove network');
    } catch (err) {
      const s = statusOf(err);
      if (s === 404) return; // gone already
      throw wrap(`remove network ${name}`, err);
    }
  }

  async listNetworks(labelFilters: string[]): Promise<string[]> {
    try {
      const nets =
        (await this.http.call<Docker.NetworkInspectInfo[]>(
          'GET',
          `/networks${queryOf({ filters: { label: labelFilters } })}`,
          'list networks',
        )) ?? [];
      return nets.map((n) => n.Name);
    } catch (err) {
      throw wrap('list networks', err);
    }
  }
}
