import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount } from '../src/format.js';
import { zeroAxis } from '../src/dashboard/ticks.js';
import { STREAM_MIN_SPAN_S, streamSpan } from '../src/dashboard/stream-span.js';

const labels = (max: number, fmt: (n: number) => string, minTop: number): string[] =>
  zeroAxis(max, fmt, { minTop, maxTicks: 6 }).ticks.map(fmt);

test('an idle rate axis reads 0 to its round minimum top, every label different', () => {
  assert.deepEqual(labels(0, formatCount, 10), ['0', '2', '4', '6', '8', '10']);
  assert.deepEqual(labels(0, formatBytes, 10_000), ['0 B', '2.0 kB', '4.0 kB', '6.0 kB', '8.0 kB', '10 kB']);
  // Whole-number labels never get a step of 0.5 (which would read 0, 1, 1).
  assert.deepEqual(labels(0, formatCount, 1), ['0', '1']);
});

test('a rate axis tops at a round number at or over the data, with at most maxTicks distinct labels', () => {
  assert.deepEqual(zeroAxis(37, formatCount, { minTop: 10, maxTicks: 6 }), { top: 40, ticks: [0, 10, 20, 30, 40] });
  assert.deepEqual(zeroAxis(0.3, String, { minTop: 0.1, maxTicks: 6 }).ticks, [0, 0.1, 0.2, 0.3]);
  for (const max of [0, 1, 7, 9.99, 10.01, 123, 4_567, 1e6, 2.5e9]) {
    for (const fmt of [formatCount, formatBytes]) {
      const { top, ticks } = zeroAxis(max, fmt, { minTop: 10, maxTicks: 6 });
      assert.ok(top >= max && top >= 10, `${max}: top ${top}`);
      assert.ok(ticks.length >= 2 && ticks.length <= 6, `${max}: ${ticks.length} ticks`);
      assert.equal(ticks[0], 0);
      assert.equal(ticks.at(-1), top);
      const shown = ticks.map(fmt);
      assert.equal(new Set(shown).size, shown.length, `${max}: ${shown.join(', ')}`);
    }
  }
  assert.throws(() => zeroAxis(1, String, { minTop: 0, maxTicks: 6 }), RangeError);
});

test('the task stream spans its runs (at least the minimum span), not the time since the last one', () => {
  const now = 1_000_000_000;
  assert.deepEqual(streamSpan([], now), { from: now / 1000 - STREAM_MIN_SPAN_S, to: now / 1000, runs: null });
  // A 2 s burst that ended 5 minutes ago: the minimum span, ending at the burst (not now).
  const old = streamSpan(
    [
      { start: now - 302_000, stop: now - 301_000 },
      { start: now - 301_000, stop: now - 300_000 },
    ],
    now,
  );
  assert.deepEqual(old.runs, { first: now - 302_000, last: now - 300_000 });
  assert.ok(old.to >= (now - 300_000) / 1000 && old.to < (now - 299_000) / 1000, `ends at the last run: ${old.to}`);
  assert.ok(Math.abs(old.to - old.from - STREAM_MIN_SPAN_S * 1.04) < 1e-6);
  // Runs over 2 minutes: all of them, first to last, a little room on each side.
  const long = streamSpan(
    [
      { start: now - 120_000, stop: now - 119_000 },
      { start: now - 2_000, stop: now - 1_000 },
    ],
    now,
  );
  assert.ok(long.from < (now - 120_000) / 1000 && long.from > (now - 123_000) / 1000);
  assert.ok(long.to > (now - 1_000) / 1000 && long.to < now / 1000 + 2);
});
