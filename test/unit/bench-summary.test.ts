import test from 'ava';
import {
  collectSummary,
  formatSummary,
  summaryLine,
  targetText,
  type BenchResult,
} from '../../bench/lib/result.js';

const base = { unit: 'ms', baselineName: 'floor' };

test('a ratio target is judged on bai ÷ baseline', (t) => {
  const ok = summaryLine({ ...base, figure: 'a', bai: 110, baseline: 100 }, { ratioAtMost: 1.15 });
  t.is(ok.ratio, 1.1);
  t.true(ok.met);
  const slow = summaryLine({ ...base, figure: 'b', bai: 120, baseline: 100 }, { ratioAtMost: 1.15 });
  t.false(slow.met);
  const rate = summaryLine({ ...base, figure: 'c', bai: 420, baseline: 1000 }, { ratioAtLeast: 1 });
  t.is(rate.ratio, 0.42);
  t.false(rate.met);
});

test('an absolute target ignores the baseline; no baseline means no ratio', (t) => {
  const l = summaryLine({ ...base, figure: 'p99', bai: 40, baseline: null }, { atMost: 50 });
  t.is(l.ratio, null);
  t.true(l.met);
  t.false(summaryLine({ ...base, figure: 'p99', bai: NaN, baseline: 1 }, { atMost: 50 }).met);
  t.false(summaryLine({ ...base, figure: 'r', bai: 1, baseline: null }, { ratioAtMost: 2 }).met);
  t.is(summaryLine({ ...base, figure: 'n', bai: 1, baseline: 2 }, {}).met, null);
});

test('the runner collects every bench’s lines in run order and prints one row each', (t) => {
  const line = (figure: string) => summaryLine({ ...base, figure, bai: 1, baseline: 2 }, { ratioAtMost: 1 });
  const results: BenchResult[] = [
    { name: 'x', rows: [], summaryLines: [line('first'), line('second')] },
    { name: 'y', rows: [] },
    { name: 'z', rows: [], summaryLines: [line('third')] },
  ];
  const lines = collectSummary(results);
  t.deepEqual(
    lines.map((l) => l.figure),
    ['first', 'second', 'third'],
  );
  const text = formatSummary(lines).split('\n');
  t.is(text.length, 2 + 3);
  t.regex(text[2]!, /^first\s+1\.0 ms\s+2\.0 ms \(floor\)\s+0\.50×\s+≤ 1\.0×\s+yes$/);
});

test('the target column is written from the check that judges the line', (t) => {
  t.is(targetText({ atMost: 20 }, ''), '≤ 20');
  t.is(targetText({ atMost: 300 }, 'ms'), '≤ 300 ms');
  t.is(targetText({ ratioAtMost: 1.05 }, 'ms'), '≤ 1.05×');
  t.is(targetText({ ratioAtLeast: 1 }, '/s'), '≥ 1.0×');
  t.is(targetText({ atMost: 50, ratioAtMost: 0.5 }, 'ms'), '≤ 50 ms and ≤ 0.5×');
  t.is(summaryLine({ ...base, figure: 'x', bai: 1, baseline: 2 }, { ratioAtMost: 0.5 }).target, '≤ 0.5×');
});
