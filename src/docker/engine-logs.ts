import type { Readable } from 'node:stream';
import { OutputTail } from '../domain/output-tail.js';
import { statusOf, wrap } from './docker-errors.js';
import type { LogFollow, LogTail } from './docker-types.js';
import { queryOf, type EngineHttp } from './engine-http.js';
import { DockerDemux } from './log-demux.js';

/**
 * A container's output read from the engine on the agent's kept connections (engine-http.ts):
 * both outputs, followed, so a stopped container's stream ends after its last line; a stream
 * read to its end gives its connection back for the next call.
 */
const LOGS_QUERY = queryOf({ stdout: true, stderr: true, follow: true });

/**
 * The last `limitBytes` of stdout and stderr, read as a stream: memory stays at the limit
 * whatever the engine holds (a container created before log rotation may hold gigabytes).
 */
export async function logTail(http: EngineHttp, id: string, limitBytes: number): Promise<LogTail> {
  let raw: Readable;
  try {
    raw = await http.open('GET', `/containers/${id}/logs${LOGS_QUERY}`, 'logs');
  } catch (err) {
    if (statusOf(err) === 404) return { text: '', bytes: 0, truncated: false }; // gone: no output
    throw wrap(`logs of container ${id.slice(0, 12)}`, err);
  }
  const tail = new OutputTail(limitBytes);
  const demux = new DockerDemux();
  raw.on('error', (err) => demux.destroy(err));
  raw.pipe(demux);
  try {
    for await (const chunk of demux) tail.push(chunk as Buffer);
  } catch (err) {
    throw wrap(`logs of container ${id.slice(0, 12)}`, err);
  } finally {
    raw.destroy(); // nothing once read to its end; otherwise its connection is closed
  }
  return { text: tail.text(), bytes: tail.totalBytes, truncated: tail.truncated };
}

/**
 * Follows a container's output, from `sinceSec` (Unix seconds, fractional) when given. The
 * stream pauses the engine's socket while its reader is busy; it ends when the container stops.
 */
export async function followLogs(http: EngineHttp, id: string, sinceSec?: number): Promise<LogFollow> {
  const since = sinceSec ? `&since=${encodeURIComponent(String(sinceSec))}` : '';
  let raw: Readable;
  try {
    raw = await http.open('GET', `/containers/${id}/logs${LOGS_QUERY}${since}`, 'logs');
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
