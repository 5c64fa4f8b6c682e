import test from 'ava';
import { escapeHtml, html, raw } from '../../src/domain/html.js';
import { timelineOf } from '../../src/domain/timeline.js';

test('escapeHtml turns every character that could open markup or leave an attribute into an entity', (t) => {
  t.is(
    escapeHtml(`<script>alert("x")</script>&'\``),
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&#96;',
  );
  t.is(escapeHtml(null), '');
  t.is(escapeHtml(42), '42');
});

test('html escapes interpolated values, joins lists, and keeps only SafeHtml as is', (t) => {
  const name = '"><img src=x onerror=alert(1)>';
  const out = html`<a title="${name}">${[name, html`<b>${'&'}</b>`]}</a>${raw('<hr>')}${null}${false}`;
  t.is(
    out.text,
    '<a title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;<b>&amp;</b></a><hr>',
  );
});

test('timelineOf: segments in time order, repeated statuses merged, an end drawn at its instant', (t) => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const segs = timelineOf(
    [
      { status: 'RUNNING', at: at(2) },
      { status: 'PENDING', at: at(0) },
      { status: 'TERMINATED', at: at(10) },
      { status: 'TERMINATED', at: at(10) },
      { status: 'not-a-status', at: at(5) },
    ],
    at(100),
  );
  t.deepEqual(
    segs.map((s) => [s.status, s.offsetPct, s.widthPct]),
    [
      ['PENDING', 0, 20],
      ['RUNNING', 20, 80],
      ['TERMINATED', 100, 0],
    ],
  );
});

test('timelineOf: a live session lasts until now; no events, no segments', (t) => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const segs = timelineOf(
    [
      { status: 'PENDING', at: at(0) },
      { status: 'RUNNING', at: at(1) },
    ],
    at(4),
  );
  t.deepEqual(
    segs.map((s) => [s.status, s.widthPct, s.end]),
    [
      ['PENDING', 25, at(1).getTime()],
      ['RUNNING', 75, at(4).getTime()],
    ],
  );
  t.deepEqual(timelineOf([], at(4)), []);
});
