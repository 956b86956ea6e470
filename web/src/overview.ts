// The page's overview: streams with their rates, the engine's throughput over
// time, and the table of queries with their counters and a drop button.

import type { QueryInfo, StreamInfo } from "./api";
import { LineChart } from "./chart";
import { fmtCompact, fmtInt, fmtNumber, fmtTime, h, replaceChildren } from "./dom";

/** Seconds of throughput kept. */
const THROUGHPUT_SECONDS = 300;
/** Samples (about one a second) over which results/s is averaged. */
const RESULT_RATE_SAMPLES = 6;

/** The streams list. */
export class StreamsView {
  readonly el = h("div.streams", { "data-testid": "streams" });

  show(streams: StreamInfo[]): void {
    if (!streams.length) {
      replaceChildren(this.el, h("div.empty", {}, "No streams yet: create one with CREATE STREAM."));
      return;
    }
    replaceChildren(
      this.el,
      ...streams.map((s) =>
        h(
          "div.stream",
          { "data-stream": s.name },
          h(
            "div.stream-head",
            {},
            h("span.stream-name", {}, s.name),
            h("span.stream-source", { title: s.source_detail ?? s.source }, `${s.source} · ${s.format}`),
          ),
          h(
            "div.stream-rate",
            {},
            h("span.rate", { "data-testid": "stream-rate" }, fmtNumber(Math.round(s.records_per_sec))),
            h("span.unit", {}, "records/s"),
          ),
          h(
            "dl.stats",
            {},
            stat("records", fmtCompact(s.stats.records_in)),
            stat("rejected", fmtCompact(s.stats.rejected), s.stats.rejected > 0 ? "warn" : ""),
            stat("late", fmtCompact(s.stats.late), s.stats.late > 0 ? "warn" : ""),
            stat("queries", String(s.queries.length)),
            stat("groups", fmtCompact(s.state_groups)),
            stat("watermark", s.watermark === null ? "–" : fmtTime(s.watermark)),
          ),
        ),
      ),
    );
  }
}

function stat(label: string, value: string, cls = ""): HTMLElement {
  return h("div.stat", { class: cls }, h("dt", {}, label), h("dd", {}, value));
}

/** Records per second of each stream, and results per second, over time. */
export class ThroughputView {
  readonly el: HTMLElement;
  private readonly chart: LineChart;
  private readonly xs: number[] = [];
  private readonly rates = new Map<string, (number | null)[]>();
  private readonly results: (number | null)[] = [];
  /** Recent (time, results so far) samples: results/s is taken over a few seconds, as windows close in bursts. */
  private readonly resultTotals: { at: number; total: number }[] = [];
  private readonly summary = h("div.throughput-summary");

  constructor() {
    const box = h("div.throughput-chart", { "data-testid": "throughput" });
    this.chart = new LineChart(box, { height: 180, unit: "/s" });
    this.el = h("div.throughput", {}, this.summary, box);
  }

  /** Adds one sample of every stream. */
  sample(streams: StreamInfo[], now = Date.now()): void {
    const total = streams.reduce((a, s) => a + s.stats.results_out, 0);
    this.resultTotals.push({ at: now, total });
    if (this.resultTotals.length > RESULT_RATE_SAMPLES) this.resultTotals.shift();
    const first = this.resultTotals[0];
    const resultRate =
      now > first.at ? Math.max(0, ((total - first.total) * 1000) / (now - first.at)) : null;
    this.xs.push(now / 1000);
    for (const s of streams) {
      if (!this.rates.has(s.name)) this.rates.set(s.name, this.xs.slice(0, -1).map(() => null));
    }
    for (const [name, ys] of this.rates) {
      const s = streams.find((x) => x.name === name);
      ys.push(s ? s.records_per_sec : null);
    }
    this.results.push(resultRate);
    if (this.xs.length > THROUGHPUT_SECONDS) {
      this.xs.shift();
      this.results.shift();
      for (const ys of this.rates.values()) ys.shift();
    }
    const records = streams.reduce((a, s) => a + s.records_per_sec, 0);
    const inTotal = streams.reduce((a, s) => a + s.stats.records_in, 0);
    replaceChildren(
      this.summary,
      figure(fmtRate(records), "records/s in"),
      figure(resultRate === null ? "–" : fmtRate(resultRate), "results/s out"),
      figure(fmtCompact(inTotal), "records so far"),
    );
    this.chart.update(this.xs, [
      ...[...this.rates.entries()].map(([name, ys]) => ({ label: `${name} records`, ys, fill: true })),
      { label: "results", ys: this.results },
    ]);
  }
}

/** A rate: whole numbers, one decimal below 10. */
function fmtRate(r: number): string {
  return r < 10 ? r.toFixed(1) : fmtNumber(Math.round(r));
}

function figure(value: string, label: string): HTMLElement {
  return h("div.figure", {}, h("span.figure-value", {}, value), h("span.figure-label", {}, label));
}

/** What the queries table asks of the page. */
export interface QueriesHooks {
  select(name: string): void;
  drop(name: string): Promise<void>;
}

/** The queries with their counters. */
export class QueriesView {
  readonly el = h("div.queries", { "data-testid": "queries" });
  private selected: string | null = null;
  private armed: string | null = null;
  private last: QueryInfo[] = [];

  constructor(private readonly hooks: QueriesHooks) {}

  select(name: string | null): void {
    this.selected = name;
    this.show(this.last);
  }

  show(queries: QueryInfo[]): void {
    this.last = queries;
    if (!queries.length) {
      replaceChildren(this.el, h("div.empty", {}, "No queries yet: register one with the editor."));
      return;
    }
    const head = h(
      "tr",
      {},
      h("th", {}, "Query"),
      h("th", {}, "Kind"),
      h("th.num", { title: "Records that passed the query's WHERE" }, "Matched"),
      h("th.num", { title: "Results sent" }, "Results"),
      h("th.num", { title: "Groups in the query's aggregation state" }, "Groups"),
      h("th.num", { title: "Live subscribers" }, "Subs"),
      h("th", {}),
    );
    const rows = queries.map((q) => {
      const c = q.counters;
      const armed = this.armed === q.name;
      return h(
        "tr",
        {
          "data-query": q.name,
          class: q.name === this.selected ? "selected" : "",
          onclick: () => this.hooks.select(q.name),
        },
        h("td", {}, h("span.mono", {}, q.name), h("div.sub", {}, q.stream)),
        h("td", {}, h("span.badge", {}, q.kind)),
        h("td.num", {}, fmtInt(c.matched)),
        h("td.num", {}, fmtInt(c.results_out)),
        h("td.num", {}, q.kind === "aggregate" ? fmtInt(c.state_groups) : "–"),
        h("td.num", {}, String(q.subscribers)),
        h(
          "td.actions",
          {},
          h(
            "button.btn.btn-small",
            {
              type: "button",
              class: armed ? "btn-danger" : "btn-ghost",
              title: armed ? "Click again to drop the query" : "Drop the query",
              "data-testid": `drop-${q.name}`,
              onclick: (e: Event) => {
                e.stopPropagation();
                this.onDrop(q.name);
              },
            },
            armed ? "Confirm drop" : "Drop",
          ),
        ),
      );
    });
    replaceChildren(this.el, h("table.grid", {}, h("thead", {}, head), h("tbody", {}, ...rows)));
  }

  private onDrop(name: string): void {
    if (this.armed !== name) {
      this.armed = name;
      this.show(this.last);
      setTimeout(() => {
        if (this.armed === name) {
          this.armed = null;
          this.show(this.last);
        }
      }, 4000);
      return;
    }
    this.armed = null;
    void this.hooks.drop(name);
  }
}
