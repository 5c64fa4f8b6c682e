/**
 * A strict reading of the Prometheus text exposition format, of our own (beside the
 * third-party parser the metrics test also runs): each sample line is `name{labels} value`;
 * a family's HELP and TYPE come before its samples, once; label values are quoted and escaped;
 * a histogram's buckets are cumulative per label set, and its +Inf bucket equals its _count.
 * Returns the samples, keyed `name{k="v",...}` with labels sorted; throws at the first fault.
 */
export function strictSamples(text: string): Map<string, number> {
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
  const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;
  const help = new Map<string, number>();
  const type = new Map<string, string>();
  const seen = new Set<string>();
  const out = new Map<string, number>();
  const buckets = new Map<string, { le: number; v: number }[]>();
  if (!text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const at = `line ${i + 1} "${line}"`;
    if (line === '') return;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${at}: bad metric name`);
      if (seen.has(name)) throw new Error(`${at}: ${kind} after samples of ${name}`);
      if ((kind === 'HELP' ? help : type).has(name)) throw new Error(`${at}: second ${kind} for ${name}`);
      if (kind === 'HELP') help.set(name, 1);
      else if (['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) type.set(name, rest);
      else throw new Error(`${at}: unknown type`);
      return;
    }
    if (line.startsWith('#')) throw new Error(`${at}: a comment that is neither HELP nor TYPE`);
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${at}: not "name{labels} value"`);
    const [, name, , body, raw] = m as unknown as [string, string, string, string | undefined, string];
    const family = familyOf(name, type);
    if (!family) throw new Error(`${at}: a sample with no TYPE before it`);
    if (!help.has(family)) throw new Error(`${at}: a sample with no HELP before it`);
    seen.add(family);
    const labels: [string, string][] = [];
    let rest = body ?? '';
    while (rest !== '') {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`${at}: bad labels at "${rest}"`);
      labels.push([l[1]!, l[2]!]);
      rest = rest.slice(l[0].length);
    }
    if (new Set(labels.map(([k]) => k)).size !== labels.length) throw new Error(`${at}: a label twice`);
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
    if (!/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(raw))
      throw new Error(`${at}: bad value`);
    const key = keyOf(name, labels);
    if (out.has(key)) throw new Error(`${at}: the same series twice`);
    out.set(key, value);
    if (type.get(family) === 'histogram' && name === `${family}_bucket`) {
      const le = labels.find(([k]) => k === 'le');
      if (!le) throw new Error(`${at}: a bucket without le`);
      const series = keyOf(
        family,
        labels.filter(([k]) => k !== 'le'),
      );
      const list = buckets.get(series) ?? [];
      list.push({ le: le[1] === '+Inf' ? Infinity : Number(le[1]), v: value });
      buckets.set(series, list);
    }
  });
  for (const [series, list] of buckets) {
    for (let i = 1; i < list.length; i++) {
      if (!(list[i]!.le > list[i - 1]!.le)) throw new Error(`${series}: buckets not in ascending le`);
      if (list[i]!.v < list[i - 1]!.v) throw new Error(`${series}: buckets not cumulative`);
    }
    const last = list[list.length - 1]!;
    if (last.le !== Infinity) throw new Error(`${series}: no +Inf bucket`);
    const family = series.replace(/\{.*$/, '');
    const count = out.get(series.replace(family, `${family}_count`));
    if (count !== last.v) throw new Error(`${series}: +Inf bucket ${last.v} but _count ${count}`);
  }
  return out;
}

/** The family a sample name belongs to (a histogram's _bucket/_sum/_count, a summary's _sum/_count). */
function familyOf(name: string, type: Map<string, string>): string | null {
  if (type.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : null;
    if (base && (type.get(base) === 'histogram' || (suffix !== '_bucket' && type.get(base) === 'summary')))
      return base;
  }
  return null;
}

/** `name{a="1",b="2"}`, labels sorted: the key of one series. */
export function keyOf(name: string, labels: [string, string][] | Record<string, string>): string {
  const list = (Array.isArray(labels) ? labels : Object.entries(labels))
    .slice()
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return list.length === 0 ? name : `${name}{${list.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}
