/**
 * The summary's time series: tasks per second and bytes per second (per path), from the totals of
 * consecutive updates, drawn with uPlot (small, fast, canvas; built for streaming time series).
 */
import uPlot from 'uplot';
import type { DashboardChannel } from '@meshwork/protocol';
import { formatBytes, formatCount } from '../format.js';
import { PATH_COLORS, PATH_LABELS } from './colors.js';
import { zeroAxis, type ZeroAxis } from './ticks.js';

/** Points kept per series: at one update per 500 ms, the last 5 minutes. */
const MAX_POINTS = 600;
const CHART_HEIGHT_PX = 160;
/** Ticks on a y axis at most (0 and the top included): about one per 25 px of the chart. */
const MAX_Y_TICKS = 6;
/** The top of an idle chart's y axis: 10 tasks/s, 10 kB/s. */
const MIN_TOP_TASKS_PER_S = 10;
const MIN_TOP_BYTES_PER_S = 10_000;
/** The shortest time a rate chart spans, in seconds, ending at its latest point (or now, with none). */
const MIN_SPAN_S = 10;

type Summary = DashboardChannel.DashboardSummary;

export interface Rates {
  tasksPerSecond: number;
}

export class RateCharts {
  private readonly t: number[] = [];
  private readonly tasks: number[] = [];
  private readonly tcp: number[] = [];
  private readonly webrtc: number[] = [];
  private readonly relay: number[] = [];
  private last: { at: number; s: Summary } | undefined;
  private readonly taskChart: uPlot;
  private readonly byteChart: uPlot;

  constructor(taskTarget: HTMLElement, byteTarget: HTMLElement) {
    const width = (el: HTMLElement): number => Math.max(240, el.clientWidth);
    /**
     * A y scale from 0 to a round top, its ticks, and labels all different (uPlot's own would
     * label 0, 0.5, 1 tasks/s as 0, 1, 1). The labels drawn are also the chart's `data-y-ticks`.
     */
    const yAxis = (target: HTMLElement, fmt: (n: number) => string, minTop: number) => {
      let axis: ZeroAxis = zeroAxis(0, fmt, { minTop, maxTicks: MAX_Y_TICKS });
      const scale: uPlot.Scale = {
        range: (_u, _min, max) => {
          axis = zeroAxis(max, fmt, { minTop, maxTicks: MAX_Y_TICKS });
          return [0, axis.top];
        },
      };
      const drawn: uPlot.Axis = {
        stroke: 'currentColor',
        grid: { stroke: 'rgba(128,128,128,0.15)' },
        splits: () => axis.ticks,
        values: (_u, ticks) => {
          const labels = ticks.map(fmt);
          target.dataset['yTicks'] = labels.join('|');
          return labels;
        },
        size: 64,
      };
      return { scale, axis: drawn };
    };
    const xAxis: uPlot.Axis = { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } };
    // Time from the first point to the latest, at least MIN_SPAN_S (not the few points of a fresh page).
    const x: uPlot.Scale = {
      time: true,
      range: (_u, min, max) => {
        const to = max ?? Date.now() / 1000;
        return [Math.min(min ?? to, to - MIN_SPAN_S), to];
      },
    };
    const taskY = yAxis(taskTarget, formatCount, MIN_TOP_TASKS_PER_S);
    this.taskChart = new uPlot(
      {
        width: width(taskTarget),
        height: CHART_HEIGHT_PX,
        scales: { x, y: taskY.scale },
        legend: { show: false },
        series: [
          {},
          { label: 'tasks/s', stroke: '#0f766e', fill: 'rgba(15,118,110,0.12)', width: 1.5, points: { show: false } },
        ],
        axes: [xAxis, taskY.axis],
      },
      [this.t, this.tasks],
      taskTarget,
    );
    const byteSeries = (path: keyof typeof PATH_COLORS): uPlot.Series => ({
      label: `${PATH_LABELS[path]} /s`,
      stroke: PATH_COLORS[path],
      width: 1.5,
      points: { show: false },
    });
    const byteY = yAxis(byteTarget, formatBytes, MIN_TOP_BYTES_PER_S);
    this.byteChart = new uPlot(
      {
        width: width(byteTarget),
        height: CHART_HEIGHT_PX,
        legend: { live: false },
        scales: { x, y: byteY.scale },
        series: [{}, byteSeries('tcp'), byteSeries('webrtc'), byteSeries('relay')],
        axes: [xAxis, byteY.axis],
      },
      [this.t, this.tcp, this.webrtc, this.relay],
      byteTarget,
    );
    new ResizeObserver(() => {
      this.taskChart.setSize({ width: width(taskTarget), height: CHART_HEIGHT_PX });
      this.byteChart.setSize({ width: width(byteTarget), height: CHART_HEIGHT_PX });
    }).observe(taskTarget);
  }

  /** Adds the rates since the previous update; returns the latest. */
  add(at: number, s: Summary): Rates {
    const prev = this.last;
    this.last = { at, s };
    if (!prev || at <= prev.at) return { tasksPerSecond: 0 };
    const dt = (at - prev.at) / 1000;
    const rate = (now: number, before: number): number => Math.max(0, now - before) / dt;
    const tasksPerSecond = rate(s.tasksFinished + s.tasksErred, prev.s.tasksFinished + prev.s.tasksErred);
    this.t.push(at / 1000);
    this.tasks.push(tasksPerSecond);
    this.tcp.push(rate(s.bytes.tcp, prev.s.bytes.tcp));
    this.webrtc.push(rate(s.bytes.webrtc, prev.s.bytes.webrtc));
    this.relay.push(rate(s.bytes.relay, prev.s.bytes.relay));
    if (this.t.length > MAX_POINTS)
      for (const xs of [this.t, this.tasks, this.tcp, this.webrtc, this.relay]) xs.shift();
    this.taskChart.setData([this.t, this.tasks]);
    this.byteChart.setData([this.t, this.tcp, this.webrtc, this.relay]);
    return { tasksPerSecond };
  }
}
