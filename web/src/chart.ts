// A time-series line chart (uPlot) that follows its container's width and
// takes new data in place; rebuilt only when its set of series changes.

import uPlot from "uplot";
import { fmtCompact, fmtTime, PALETTE } from "./dom";

/** One line of a chart. */
export interface Line {
  label: string;
  ys: (number | null)[];
  /** Fill the area under the line. */
  fill?: boolean;
}

/** How a chart looks. */
export interface ChartOptions {
  height: number;
  /** Unit after values in the legend, e.g. "/s". */
  unit?: string;
}

/** A line chart over time (x in Unix seconds). */
export class LineChart {
  private plot: uPlot | null = null;
  private labels = "";
  private readonly observer: ResizeObserver;

  constructor(
    readonly el: HTMLElement,
    private readonly opts: ChartOptions,
  ) {
    this.observer = new ResizeObserver(() => {
      if (this.plot && this.el.clientWidth > 0) {
        this.plot.setSize({ width: this.el.clientWidth, height: this.opts.height });
      }
    });
    this.observer.observe(this.el);
  }

  /** Whether the chart has drawn at least one line with data. */
  get drawn(): boolean {
    return this.plot !== null;
  }

  /** Shows these lines over `xs`; an empty `xs` clears the chart. */
  update(xs: number[], lines: Line[]): void {
    if (!xs.length || !lines.length) {
      this.destroy();
      return;
    }
    const data = [xs, ...lines.map((l) => l.ys)] as uPlot.AlignedData;
    const labels = lines.map((l) => l.label).join("\u0000");
    if (this.plot && labels === this.labels) {
      this.plot.setData(data);
      this.showLatest(this.plot);
      return;
    }
    this.destroy();
    this.labels = labels;
    const unit = this.opts.unit ?? "";
    const width = Math.max(this.el.clientWidth, 200);
    this.plot = new uPlot(
      {
        width,
        height: this.opts.height,
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
        legend: { live: true },
        hooks: {
          // Away from the cursor the legend shows the latest values.
          setCursor: [(u) => this.showLatest(u)],
        },
        scales: {
          x: { time: true, range: (u) => timeRange(u.data[0] as number[]) },
          y: { range: (_u, min, max) => [Math.min(0, min ?? 0), niceMax(max)] },
        },
        axes: [
          {
            stroke: "#6b7280",
            grid: { stroke: "#eef0f3", width: 1 },
            ticks: { stroke: "#e5e7eb", width: 1 },
            font: AXIS_FONT,
            space: 64,
            values: (_u, splits) => splits.map((s) => fmtTime(s * 1000)),
          },
          {
            stroke: "#6b7280",
            grid: { stroke: "#eef0f3", width: 1 },
            ticks: { show: false },
            font: AXIS_FONT,
            size: 48,
            values: (_u, splits) => splits.map((v) => fmtCompact(v)),
          },
        ],
        series: [
          { label: "time" },
          ...lines.map((l, i) => {
            const color = PALETTE[i % PALETTE.length];
            return {
              label: l.label,
              stroke: color,
              width: 2,
              fill: l.fill ? color + "1f" : undefined,
              spanGaps: false,
              points: { size: 5, fill: color },
              value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "–" : fmtCompact(v) + unit),
            };
          }),
        ],
      },
      data,
      this.el,
    );
    this.showLatest(this.plot);
  }

  private showLatest(u: uPlot): void {
    if (u.cursor.idx === null || u.cursor.idx === undefined) {
      const n = u.data[0].length;
      if (n) u.setLegend({ idx: n - 1 }, false);
    }
  }

  /** Removes the chart. */
  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
    this.labels = "";
  }
}

const AXIS_FONT = '11px "Inter", system-ui, sans-serif';

/** The x range: the data's, or a minute around one point alone. */
function timeRange(xs: number[]): [number, number] {
  const lo = xs[0] ?? Date.now() / 1000;
  const hi = xs[xs.length - 1] ?? lo;
  return hi - lo < 1 ? [lo - 30, hi + 30] : [lo, hi];
}

/** A round upper bound for the y axis, at least 1. */
function niceMax(max: number | null): number {
  if (max === null || !Number.isFinite(max) || max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * magnitude >= max * 1.05) return step * magnitude;
  }
  return 10 * magnitude;
}
