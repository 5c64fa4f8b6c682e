import type { Writable } from 'node:stream';

/** Terminal output: colour and progress lines only on a TTY, the same words otherwise. */
export class Output {
  /** stdout is a terminal that takes colour. */
  readonly tty: boolean;
  /** stderr is a terminal that can rewrite a line (where the progress line goes). */
  readonly progressTty: boolean;

  constructor(
    readonly out: Writable,
    readonly err: Writable,
    env: NodeJS.ProcessEnv,
  ) {
    const isTty = (s: Writable) => Boolean((s as { isTTY?: boolean }).isTTY);
    this.tty = isTty(out) && !env.NO_COLOR && env.TERM !== 'dumb';
    this.progressTty = isTty(err) && env.TERM !== 'dumb';
  }

  color(code: number, s: string): string {
    return this.tty ? `\u001b[${code}m${s}\u001b[0m` : s;
  }
  green(s: string) {
    return this.color(32, s);
  }
  red(s: string) {
    return this.color(31, s);
  }
  dim(s: string) {
    return this.color(2, s);
  }
  bold(s: string) {
    return this.color(1, s);
  }

  status(s: string): string {
    if (s === 'TERMINATED' || s === 'SUCCESS' || s === 'RUNNING') return this.green(s);
    if (s === 'ERROR' || s === 'CANCELLED' || s === 'FAILURE') return this.red(s);
    return s;
  }

  line(s = ''): void {
    this.out.write(`${s}\n`);
  }

  json(v: unknown): void {
    this.out.write(`${JSON.stringify(v, null, 2)}\n`);
  }

  /** A progress line that rewrites itself on a TTY and is left out otherwise. */
  progress(s: string): void {
    if (this.progressTty) this.err.write(`\r\u001b[2K${s}`);
  }

  endProgress(): void {
    if (this.progressTty) this.err.write('\r\u001b[2K');
  }

  table(headers: string[], rows: string[][]): void {
    const widths = headers.map((h, i) =>
      Math.max(h.length, ...rows.map((r) => stripAnsi(r[i] ?? '').length)),
    );
    const fmt = (cells: string[]) =>
      cells
        .map((c, i) =>
          i === cells.length - 1 ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - stripAnsi(c).length)),
        )
        .join('  ')
        .trimEnd();
    this.line(this.bold(fmt(headers)));
    for (const r of rows) this.line(fmt(r));
  }
}

/** "3 s ago", "in 2 min": relative times for humans. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const d = (new Date(iso).getTime() - now) / 1000;
  const a = Math.abs(d);
  const txt =
    a < 60
      ? `${Math.round(a)} s`
      : a < 3600
        ? `${Math.round(a / 60)} min`
        : a < 86400
          ? `${Math.round(a / 3600)} h`
          : `${Math.round(a / 86400)} d`;
  return d < 0 ? `${txt} ago` : `in ${txt}`;
}

// eslint-disable-next-line no-control-regex
const ANSI_SGR = /\u001b\[[0-9;]*m/g;

/** The text without its colours and styles (ANSI SGR sequences): for widths and plain output. */
export function stripAnsi(s: string): string {
  return s.replace(ANSI_SGR, '');
}
