// A query's card: its counters, a line chart of its top groups over windows
// (matches per second for a filter query) and a table of its latest results.

import type { QueryInfo } from "./api";
import { LineChart } from "./chart";
import { fmtInt, fmtTime, fmtValue, h, PALETTE, replaceChildren } from "./dom";
import { groupLabel, QueryStore } from "./store";

/** Groups drawn in a chart. */
const TOP_GROUPS = 6;
/** Rows shown in a table. */
const TABLE_ROWS = 8;

/** One query's live results. */
export class QueryCard {
  readonly el: HTMLElement;
  private readonly chart: LineChart;
  private readonly chartBox: HTMLElement;
  private readonly chartNote: HTMLElement;
  private readonly tableBox: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly metric: HTMLSelectElement;
  private readonly badge: HTMLElement;
  private drawnVersion = -1;
  private metricChoices: string | null = null;

  constructor(
    private info: QueryInfo,
    readonly store: QueryStore,
    onSelect: (name: string) => void,
  ) {
    this.chartBox = h("div.qcard-chart", { "data-testid": "chart" });
    this.chart = new LineChart(this.chartBox, { height: 170 });
    this.chartNote = h("div.chart-note", { "data-testid": "chart-note" });
    this.tableBox = h("div.qcard-table", { "data-testid": "results" });
    this.caption = h("div.qcard-caption");
    this.meta = h("div.qcard-meta");
    this.badge = h("span.badge", {}, info.kind);
    this.metric = h("select.metric", {
      title: "The value drawn",
      "aria-label": "Value drawn",
      onchange: () => {
        this.drawnVersion = -1;
        this.render();
      },
    });
    this.el = h(
      "article.card.qcard",
      { "data-query": info.name, "data-testid": "query-card" },
      h(
        "header.qcard-head",
        {},
        h(
          "div.qcard-title",
          {},
          h("button.qname", { type: "button", title: "Show in the plan", onclick: () => onSelect(this.info.name) }, info.name),
          this.badge,
        ),
        this.metric,
      ),
      this.meta,
      this.chartNote,
      this.chartBox,
      this.caption,
      this.tableBox,
      h("details.qcard-sql", {}, h("summary", {}, "SQL"), h("pre", {}, info.text)),
    );
    this.setInfo(info);
    this.render();
  }

  /** New counters from the server. */
  setInfo(info: QueryInfo): void {
    this.info = info;
    const c = info.counters;
    const parts = [
      `${fmtInt(c.matched)} matched`,
      `${fmtInt(c.results_out)} results`,
      info.kind === "aggregate" ? `${fmtInt(c.state_groups)} groups` : null,
    ].filter(Boolean);
    replaceChildren(this.meta, h("span.stream-tag", {}, info.stream), ` ${parts.join(" · ")}`);
  }

  /** Marks the card as the one selected. */
  setSelected(on: boolean): void {
    this.el.classList.toggle("selected", on);
  }

  /** Redraws the table and chart if results arrived since the last time. */
  render(): void {
    const s = this.store;
    if (s.version === this.drawnVersion) return;
    this.drawnVersion = s.version;
    if (s.isFilter) this.renderFilter();
    else this.renderAggregate();
    this.el.classList.toggle("has-rows", s.received > 0);
    this.el.classList.toggle("has-chart", this.chart.drawn);
    this.chartNote.hidden = this.chart.drawn;
    if (!this.chart.drawn) this.chartNote.textContent = this.waitingFor();
  }

  /** What the chart waits for, said in place of it. */
  private waitingFor(): string {
    const s = this.store;
    if (this.info.kind === "filter") return "No matches yet.";
    if ([...s.windows.values()].some((w) => w.partial)) {
      return "The chart starts when the first window closes; the table shows the open window so far.";
    }
    return "Waiting for the first results…";
  }

  private setMetrics(cols: string[]): void {
    const key = cols.join(",");
    if (key === this.metricChoices) return;
    const previous = this.metric.value;
    this.metricChoices = key;
    replaceChildren(this.metric, ...cols.map((c) => h("option", { value: c }, c)));
    if (cols.includes(previous)) this.metric.value = previous;
    this.metric.hidden = cols.length < 2;
  }

  private renderAggregate(): void {
    const s = this.store;
    this.setMetrics(s.numericCols());
    const metric = this.metric.value || null;
    this.badge.textContent = s.received === 0 ? this.info.kind : s.running ? "running totals" : "windowed";
    if (metric) {
      const series = s.series(metric, TOP_GROUPS);
      this.chart.update(
        series.xs,
        series.groups.map((g) => ({ label: g.label, ys: g.ys })),
      );
    } else {
      this.chart.update([], []);
    }
    const rows = s.tableRows(metric);
    if (!rows.length) {
      this.caption.textContent = "";
      // The note in place of the chart says what is awaited.
      replaceChildren(this.tableBox);
      return;
    }
    const w = s.running ? null : s.tableWindow();
    if (w) {
      const span = w.start !== null ? `${fmtTime(w.start)} – ${fmtTime(w.end)}` : `until ${fmtTime(w.end)}`;
      replaceChildren(
        this.caption,
        `Window ${span}`,
        w.partial ? h("span.pill.pill-live", {}, "open") : h("span.pill", {}, "final"),
        ` ${rows.length} ${rows.length === 1 ? "group" : "groups"}`,
      );
    } else {
      replaceChildren(this.caption, "Running totals", h("span.pill.pill-live", {}, "live"), ` ${rows.length} groups`);
    }
    const colours = new Map(s.series(metric ?? "", TOP_GROUPS).groups.map((g, i) => [g.label, PALETTE[i % PALETTE.length]]));
    const head = h(
      "tr",
      {},
      ...s.groupCols.map((c) => h("th", {}, c)),
      ...s.valueCols.map((c) => h("th.num", { class: c === metric ? "sorted" : "" }, c)),
    );
    const body = rows.slice(0, TABLE_ROWS).map((r) => {
      const colour = colours.get(groupLabel(r.group));
      return h(
        "tr",
        {},
        ...s.groupCols.map((c, i) =>
          h("td", {}, i === 0 && colour ? h("span.swatch", { style: `background:${colour}` }) : null, fmtValue(r.group[c])),
        ),
        ...s.valueCols.map((c) => h("td.num", {}, fmtValue(r.values[c]))),
      );
    });
    replaceChildren(
      this.tableBox,
      h("table.results", {}, h("thead", {}, head), h("tbody", {}, ...body)),
      rows.length > TABLE_ROWS ? h("div.more", {}, `+ ${rows.length - TABLE_ROWS} more`) : null,
    );
  }

  private renderFilter(): void {
    const s = this.store;
    this.setMetrics([]);
    this.badge.textContent = "filter";
    const series = s.series("", 1);
    this.chart.update(
      series.xs,
      series.groups.map((g) => ({ label: g.label, ys: g.ys, fill: true })),
    );
    replaceChildren(this.caption, "Latest matches", h("span.pill.pill-live", {}, "live"), ` ${fmtInt(s.received)} received`);
    const head = h("tr", {}, h("th", {}, "arrived"), ...s.rowCols.map((c) => h("th", {}, c)));
    const body = s.rows.slice(0, TABLE_ROWS).map((r) =>
      h(
        "tr",
        {},
        h("td.muted", {}, fmtTime(r.at)),
        ...s.rowCols.map((c) => {
          const v = r.row[c];
          return h(typeof v === "number" || typeof v === "bigint" ? "td.num" : "td.clip", { title: fmtValue(v) }, fmtValue(v));
        }),
      ),
    );
    replaceChildren(this.tableBox, h("table.results", {}, h("thead", {}, head), h("tbody", {}, ...body)));
  }

  /** Frees the chart. */
  destroy(): void {
    this.chart.destroy();
    this.el.remove();
  }
}
