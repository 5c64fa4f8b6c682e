import type { Readable } from 'node:stream';

/** The kept tail of a container's output, read as a stream. */
export interface LogTail {
  text: string;
  /** Bytes the engine still held (all of the output unless its json-file log rotated). */
  bytes: number;
  truncated: boolean;
}

/** A container's output as it comes: frames' bytes, with backpressure; `stop` ends it. */
export interface LogFollow {
  stream: Readable;
  stop(): void;
}

export interface ContainerState {
  id: string;
  running: boolean;
  status: string;
  exitCode: number;
  oomKilled: boolean;
  startedAt: number | null;
  finishedAt: number | null;
  labels: Record<string, string>;
}

export interface ContainerSummary {
  id: string;
  state: string;
  labels: Record<string, string>;
}

export interface PullProgress {
  current: number;
  total: number;
  status: string;
}

/** What a run reads of an image: its labels (job user) and its own command (start barrier). */
export interface ImageConfig {
  labels: Record<string, string>;
  entrypoint: string[] | null;
  cmd: string[] | null;
}
