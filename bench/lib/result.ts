import type { Summary } from './stats.js';

/** One line of the results table: bai's figure, its baseline's, and their ratio. */
export interface Row {
  bench: string;
  metric: string;
  unit: string;
  bai: Summary | number;
  baseline: Summary | number | null;
  baselineName: string;
  /** bai ÷ baseline of the medians (for throughputs: baseline ÷ bai, so > 1 is always slower). */
  ratioMedian: number | null;
  ratioP95: number | null;
  target: string;
  met: boolean | null;
}

export interface BenchResult {
  name: string;
  rows: Row[];
  /** Anything else worth keeping in latest.json (raw samples, counts, notes). */
  extra?: Record<string, unknown>;
  /** This bench's lines of issue 18's target table (see SummaryLine). */
  summaryLines?: SummaryLine[];
}

const med = (x: Summary | number | null): number | null =>
  x === null ? null : typeof x === 'number' ? x : x.median;
const p95 = (x: Summary | number | null): number | null =>
  x === null ? null : typeof x === 'number' ? x : x.p95;

/** A row whose figure is "lower is better" (latency, memory). */
export function lowerIsBetter(
  r: Omit<Row, 'ratioMedian' | 'ratioP95' | 'met'>,
  meets: (ratioMedian: number | null, bai: Summary | number) => boolean | null,
): Row {
  const b = med(r.baseline);
  const ratioMedian = b ? med(r.bai)! / b : null;
  const bp = p95(r.baseline);
  const ratioP95 = bp ? p95(r.bai)! / bp : null;
  return { ...r, ratioMedian, ratioP95, met: meets(ratioMedian, r.bai) };
}

function fmt(x: Summary | number | null, unit: string): string {
  if (x === null) return '—';
  const d = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
  if (typeof x === 'number') return `${d(x)} ${unit}`.trimEnd();
  return `${d(x.median)} / ${d(x.p95)} ${unit}`;
}

/** The table `npm run bench` prints: medians / p95, ratios, targets. */
export function formatTable(results: BenchResult[]): string {
  const head = [
    'bench',
    'metric',
    'bai (median / p95)',
    'baseline (median / p95)',
    'ratio med',
    'ratio p95',
    'target',
    'met',
  ];
  const lines: string[][] = [head];
  for (const res of results) {
    for (const r of res.rows) {
      lines.push([
        r.bench,
        r.metric,
        fmt(r.bai, r.unit),
        r.baseline === null ? '—' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`,
        r.ratioMedian === null ? '—' : `${r.ratioMedian.toFixed(2)}×`,
        r.ratioP95 === null ? '—' : `${r.ratioP95.toFixed(2)}×`,
        r.target,
        r.met === null ? '' : r.met ? 'yes' : 'NO',
      ]);
    }
  }
  return align(lines);
}

/** Columns padded to their widest cell, a rule under the header. */
function align(lines: string[][]): string {
  const head = lines[0]!;
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const out = lines.map((l) =>
    l
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out.join('\n');
}

/**
 * One line of issue 18's target table as this run measured it: bai's figure, its baseline's
 * from the same run, their ratio (bai ÷ baseline, as the issue writes it: a throughput below
 * its baseline is < 1), the target, and whether it is met. Each bench puts its own lines in
 * `BenchResult.summaryLines`; `npm run bench` prints them all after the benches and writes
 * them to latest.json as `summary`.
 */
export interface SummaryLine {
  figure: string;
  unit: string;
  bai: number;
  baseline: number | null;
  baselineName: string;
  ratio: number | null;
  target: string;
  met: boolean | null;
}

/** How a line is judged: bai's figure at most a value, or the ratio at most / at least one. */
export interface SummaryCheck {
  atMost?: number;
  ratioAtMost?: number;
  ratioAtLeast?: number;
}

/** A bound as the target column writes it: `1` as `1.0`, `1.05` as it is. */
const bound = (n: number) => (Number.isInteger(n) && n < 10 ? n.toFixed(1) : String(n));

/** The target column, written from the check that judges it (so the two cannot disagree). */
export function targetText(check: SummaryCheck, unit: string): string {
  const parts: string[] = [];
  if (check.atMost !== undefined) parts.push(`≤ ${check.atMost}${unit ? ` ${unit}` : ''}`);
  if (check.ratioAtMost !== undefined) parts.push(`≤ ${bound(check.ratioAtMost)}×`);
  if (check.ratioAtLeast !== undefined) parts.push(`≥ ${bound(check.ratioAtLeast)}×`);
  return parts.join(' and ');
}

/**
 * A summary line, its ratio computed and judged by `check` (met is null when nothing is), its
 * target written from `check`.
 */
export function summaryLine(
  l: Omit<SummaryLine, 'ratio' | 'met' | 'target'>,
  check: SummaryCheck,
): SummaryLine {
  const ratio = l.baseline ? l.bai / l.baseline : null;
  const verdicts: boolean[] = [];
  if (check.atMost !== undefined) verdicts.push(Number.isFinite(l.bai) && l.bai <= check.atMost);
  if (check.ratioAtMost !== undefined) verdicts.push(ratio !== null && ratio <= check.ratioAtMost);
  if (check.ratioAtLeast !== undefined) verdicts.push(ratio !== null && ratio >= check.ratioAtLeast);
  return {
    ...l,
    ratio,
    target: targetText(check, l.unit),
    met: verdicts.length ? verdicts.every(Boolean) : null,
  };
}

/** Every result's summary lines, in the order the benches ran. */
export function collectSummary(results: BenchResult[]): SummaryLine[] {
  return results.flatMap((r) => r.summaryLines ?? []);
}

/** The summary table `npm run bench` prints last. */
export function formatSummary(lines: SummaryLine[]): string {
  const head = ['figure', 'bai', 'baseline (same run)', 'ratio', 'target', 'met'];
  const rows: string[][] = [head];
  for (const l of lines) {
    rows.push([
      l.figure,
      fmt(l.bai, l.unit),
      l.baseline === null ? '—' : `${fmt(l.baseline, l.unit)} (${l.baselineName})`,
      l.ratio === null ? '—' : `${l.ratio.toFixed(2)}×`,
      l.target,
      l.met === null ? '' : l.met ? 'yes' : 'NO',
    ]);
  }
  return align(rows);
}
