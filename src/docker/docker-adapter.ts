import './dockerode-deferred.js'; // before dockerode: it defers two of dockerode's heavy modules
import Docker from 'dockerode';
import type { ContainerSpec } from '../domain/container-plan.js';
import { createBody } from './create-body.js';
import { OutputTail } from '../domain/output-tail.js';
import { ImagePullFailed, statusOf, untilAborted, wrap } from './docker-errors.js';
import type {
  ContainerState,
  ContainerSummary,
  ImageConfig,
  LogFollow,
  LogTail,
  PullProgress,
} from './docker-types.js';
import { EventLines, type EngineEvent } from './event-lines.js';
import { DockerDemux } from './log-demux.js';
import { EngineHttp, engineAddress, queryOf } from './engine-http.js';

export { ImagePullFailed } from './docker-errors.js';
export type * from './docker-types.js';

function parseTime(t: string | undefined): number | null {
  if (!t || t.startsWith('0001-')) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The only importer of dockerode: promise-only calls, Docker's failures become typed errors. The
 * short calls a session makes go through EngineHttp (kept connections); streams through dockerode.
 */
export class DockerAdapter {
  private readonly docker: Docker;
  private readonly http: EngineHttp;

  constructor(dockerHost: string | null) {
    this.docker = dockerHost ? new Docker(DockerAdapter.optionsOf(dockerHost)) : new Docker();
    this.http = new EngineHttp(engineAddress(dockerHost));
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
      // The types omit ping's options; dockerode passes abortSignal through to the request.
      const ping = this.docker.ping.bind(this.docker) as unknown as (o: {
        abortSignal: AbortSignal;
      }) => Promise<unknown>;
      const signal = AbortSignal.timeout(timeoutMs);
      await untilAborted(ping({ abortSignal: signal }), signal);
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
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.pull(ref, auth ? { authconfig: auth } : {})) as NodeJS.ReadableStream;
    } catch (err) {
      const msg = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message;
      throw new ImagePullFailed(`pull ${ref}: ${msg}`);
    }
    const layers = new Map<string, { current: number; total: number }>();
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
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
   * and an engine that died under the wait must not hold its watcher (see untilAborted).
   */
  async wait(id: string, signal?: AbortSignal): Promise<number> {
    try {
      const call = this.docker.getContainer(id).wait(signal ? { abortSignal: signal } : {}) as Promise<{
        StatusCode: number;
      }>;
      const res = signal ? await untilAborted(call, signal) : await call;
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

  /**
   * The last `limitBytes` of stdout and stderr, read as a stream: memory stays at the limit
   * whatever the engine holds (a container created before log rotation may hold gigabytes).
   */
  async logTail(id: string, limitBytes: number): Promise<LogTail> {
    let raw: NodeJS.ReadableStream;
    try {
      raw = (await this.docker
        .getContainer(id)
        .logs({ stdout: true, stderr: true, follow: true })) as unknown as NodeJS.ReadableStream;
    } catch (err) {
      if (statusOf(err) === 404) return { text: '', bytes: 0, truncated: false }; // gone: no output
      throw wrap(`logs of container ${id.slice(0, 12)}`, err);
    }
    // follow: true streams (a stopped container's stream ends after its last line); without it
    // dockerode gathers the whole answer into one Buffer.
    const tail = new OutputTail(limitBytes);
    const demux = new DockerDemux();
    raw.on('error', (err) => demux.destroy(err));
    raw.pipe(demux);
    try {
      for await (const chunk of demux) tail.push(chunk as Buffer);
    } catch (err) {
      throw wrap(`logs of container ${id.slice(0, 12)}`, err);
    } finally {
      (raw as unknown as { destroy?: () => void }).destroy?.();
    }
    return { text: tail.text(), bytes: tail.totalBytes, truncated: tail.truncated };
  }

  /**
   * Follows a container's output, from `sinceSec` (Unix seconds, fractional) when given. The
   * stream pauses the engine's socket while its reader is busy; it ends when the container
   * stops.
   */
  async followLogs(id: string, sinceSec?: number): Promise<LogFollow> {
    const opts = {
      stdout: true,
      stderr: true,
      follow: true as const,
      ...(sinceSec ? { since: sinceSec } : {}),
    };
    let raw: NodeJS.ReadableStream & { destroy(): void };
    try {
      raw = (await this.docker.getContainer(id).logs(opts)) as unknown as NodeJS.ReadableStream & {
        destroy(): void;
      };
    } catch (err) {
      throw wrap(`logs of container ${id.slice(0, 12)}`, err);
    }
    const demux = new DockerDemux();
    raw.on('error', (err) => demux.destroy(err));
    raw.pipe(demux);
    return {
      stream: demux,
      stop: () => {
        raw.destroy();
        demux.destroy();
      },
    };
  }

  /**
   * Follows the engine's container events for these labels. `onEnd` is called once when the
   * stream ends or fails (the engine went away or restarted); the returned function stops it.
   */
  async events(
    labelFilters: string[],
    onEvent: (ev: EngineEvent) => void,
    onEnd: () => void,
  ): Promise<() => void> {
    let stream: NodeJS.ReadableStream & { destroy(): void };
    try {
      stream = (await this.docker.getEvents({
        filters: { type: ['container'], label: labelFilters },
      })) as unknown as NodeJS.ReadableStream & { destroy(): void };
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
