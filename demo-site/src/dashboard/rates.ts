/**
 * The summary's time series: tasks per second and bytes per second (per path), from the totals of
 * consecutive updates, drawn with uPlot (small, fast, canvas; built for streaming time series).
 */
import uPlot from 'uplot';
import type { DashboardChannel } from '@meshwork/protocol';
import { formatBytes, formatCount } from '../format.js';
import { PATH_COLORS, PATH_LABELS } from './colors.js';

/** Points kept per series: at one update per 500 ms, the last 5 minutes. */
const MAX_POINTS = 600;
const CHART_HEIGHT_PX = 160;

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
    const axes = (fmt: (n: number) => string): uPlot.Axis[] => [
      { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } },
      {
        stroke: 'currentColor',
        grid: { stroke: 'rgba(128,128,128,0.15)' },
        values: (_u, ticks) => ticks.map(fmt),
        size: 64,
      },
    ];
    this.taskChart = new uPlot(
      {
        width: width(taskTarget),
        height: CHART_HEIGHT_PX,
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        legend: { show: false },
        series: [
          {},
          { label: 'tasks/s', stroke: '#0f766e', fill: 'rgba(15,118,110,0.12)', width: 1.5, points: { show: false } },
        ],
        axes: axes(formatCount),
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
    this.byteChart = new uPlot(
      {
        width: width(byteTarget),
        height: CHART_HEIGHT_PX,
        legend: { live: false },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1024, max * 1.1)] } },
        series: [{}, byteSeries('tcp'), byteSeries('webrtc'), byteSeries('relay')],
        axes: axes(formatBytes),
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
