/**
 * The task stream: which worker thread ran which task when, one row per worker thread, a bar per
 * task run coloured by its group (red when it failed), over the time of the runs kept
 * (stream-span.ts).
 *
 * Drawn with uPlot: it gives the time axis, the scales, resizing and the cursor; the bars are a
 * `draw` hook of a few lines (uPlot's own timeline demo does the same). A Gantt or timeline
 * library (vis-timeline, ~500 kB, DOM nodes per item) would be far heavier for thousands of bars
 * redrawn twice a second; a canvas of our own would redo uPlot's axes and scales by hand.
 */
import uPlot from 'uplot';
import type { DashboardChannel } from '@meshwork/protocol';
import { ERRED_COLOR, groupColor } from './colors.js';
import { streamSpan, type StreamSpan } from './stream-span.js';

/** Task runs the page keeps (as many as the scheduler's ring). */
const STREAM_KEEP = 5_000;
const ROW_HEIGHT_PX = 24;
const AXES_HEIGHT_PX = 60;
const MIN_ROWS = 2;
/** Narrowest bar drawn, in CSS pixels, so that short tasks still show. */
const MIN_BAR_PX = 1;

type Entry = DashboardChannel.StreamEntry;
type Worker = DashboardChannel.DashboardWorker;

interface Row {
  worker: string;
  thread: number;
  label: string;
}

export class TaskStreamView {
  private entries: Entry[] = [];
  private rows: Row[] = [];
  private rowOf = new Map<string, number>();
  /** The time shown, in seconds since the epoch. */
  private span: StreamSpan = streamSpan([], Date.now());
  private readonly plot: uPlot;

  constructor(
    private readonly target: HTMLElement,
    private readonly hover: HTMLElement,
    private readonly caption: HTMLElement,
  ) {
    this.plot = new uPlot(
      {
        width: this.width(),
        height: this.height(),
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        scales: {
          x: { time: true, auto: false, range: () => [this.span.from, this.span.to] },
          y: { auto: false, range: () => [0, Math.max(MIN_ROWS, this.rows.length)] },
        },
        series: [{}, { show: false }],
        axes: [
          { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } },
          {
            stroke: 'currentColor',
            size: 150,
            grid: { show: false },
            ticks: { show: false },
            splits: () => this.rows.map((_, i) => i + 0.5),
            values: () => this.rows.map((r) => r.label),
          },
        ],
        hooks: { draw: [(u) => this.drawBars(u)], setCursor: [(u) => this.showHover(u)] },
      },
      [[], []],
      target,
    );
    new ResizeObserver(() => this.plot.setSize({ width: this.width(), height: this.height() })).observe(target);
  }

  /** Task runs kept on the page. */
  get size(): number {
    return this.entries.length;
  }

  update(at: number, fresh: readonly Entry[], workers: readonly Worker[]): void {
    if (fresh.length > 0) {
      this.entries.push(...fresh);
      if (this.entries.length > STREAM_KEEP) this.entries = this.entries.slice(-STREAM_KEEP);
    }
    this.span = streamSpan(this.entries, at);
    const { from, to } = this.span;
    const rowsBefore = this.rows.length;
    this.layoutRows(workers);
    if (this.rows.length !== rowsBefore) this.plot.setSize({ width: this.width(), height: this.height() });
    // The y scale has no visible series, so uPlot would not re-range it: set both scales here.
    this.plot.batch(() => {
      this.plot.setData(
        [
          [from, to],
          [null, null],
        ],
        false,
      );
      this.plot.setScale('x', { min: from, max: to });
      this.plot.setScale('y', { min: 0, max: Math.max(MIN_ROWS, this.rows.length) });
    });
    const d = this.target.dataset;
    d['entries'] = String(this.entries.length);
    // The span shown, in ms since the epoch on the scheduler's clock (as the runs' times).
    d['from'] = String(Math.round(from * 1000));
    d['to'] = String(Math.round(to * 1000));
    const { runs } = this.span;
    d['first'] = String(runs?.first ?? 0);
    d['last'] = String(runs?.last ?? 0);
    const time = (ms: number): string => new Date(ms).toLocaleTimeString();
    const text = runs
      ? `Task runs from ${time(runs.first)} to ${time(runs.last)}.`
      : 'No task runs yet: each run shows up here as a bar on the thread that ran it.';
    if (this.caption.textContent !== text) this.caption.textContent = text;
  }

  /** A row per thread of every connected worker, and per thread that ran something shown and has gone. */
  private layoutRows(workers: readonly Worker[]): void {
    const rows: Row[] = [];
    const seen = new Set<string>();
    const add = (worker: string, thread: number, name: string): void => {
      const id = `${worker}\u0000${thread}`;
      if (seen.has(id)) return;
      seen.add(id);
      rows.push({ worker, thread, label: `${name} #${thread}` });
    };
    for (const w of workers) for (let t = 0; t < w.threads; t++) add(w.id, t, w.name);
    const { from } = this.span;
    for (const e of this.entries) if (e.stop / 1000 >= from) add(e.worker, e.thread, e.worker);
    this.rows = rows;
    this.rowOf = new Map(rows.map((r, i) => [`${r.worker}\u0000${r.thread}`, i]));
  }

  private drawBars(u: uPlot): void {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const { from } = this.span;
    const minBar = MIN_BAR_PX * devicePixelRatio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const e of this.entries) {
      if (e.stop / 1000 < from) continue;
      const row = this.rowOf.get(`${e.worker}\u0000${e.thread}`);
      if (row === undefined) continue;
      const x0 = u.valToPos(e.start / 1000, 'x', true);
      const x1 = u.valToPos(e.stop / 1000, 'x', true);
      const y0 = u.valToPos(row + 0.85, 'y', true);
      const y1 = u.valToPos(row + 0.15, 'y', true);
      ctx.fillStyle = e.erred ? ERRED_COLOR : groupColor(e.group);
      ctx.fillRect(x0, y0, Math.max(minBar, x1 - x0), y1 - y0);
    }
    ctx.restore();
  }

  /** The task under the cursor, named under the chart. */
  private showHover(u: uPlot): void {
    const { left, top } = u.cursor;
    if (left === undefined || top === undefined || left < 0) return void (this.hover.textContent = '');
    const t = u.posToVal(left, 'x') * 1000;
    const row = Math.floor(u.posToVal(top, 'y'));
    const r = this.rows[row];
    const hit =
      r && this.entries.findLast((e) => e.worker === r.worker && e.thread === r.thread && e.start <= t && t <= e.stop);
    this.hover.textContent = hit
      ? `${hit.key} on ${r.label}: ${Math.round(hit.stop - hit.start)} ms${hit.erred ? ', failed' : ''}`
      : '';
  }

  private width(): number {
    return Math.max(320, this.target.clientWidth);
  }

  private height(): number {
    return Math.max(MIN_ROWS, this.rows.length) * ROW_HEIGHT_PX + AXES_HEIGHT_PX;
  }
}
