// The page: polls the API for streams, queries and the plan, keeps one
// websocket for every query's results, and lays out the parts.

import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, type Explain, type Outcome, type QueryInfo, type StatementError } from "./api";
import { fmtDuration, h, replaceChildren } from "./dom";
import { SqlEditor } from "./editor";
import { LiveFeed } from "./live";
import { QueriesView, StreamsView, ThroughputView } from "./overview";
import { PlanView } from "./plan";
import { QueryCard } from "./results";
import { QueryStore } from "./store";

/** How often counters and rates are read. */
const POLL_MS = 1000;
/** How often charts and tables are redrawn at most. */
const DRAW_MS = 500;

const TEMPLATES: [string, string][] = [
  [
    "Windowed counts",
    `CREATE QUERY lang_10s AS
  SELECT lang, count(*) AS n, avg(retweets) AS avg_rt
  FROM tweets
  GROUP BY lang
  WINDOW TUMBLING 10s
  EMIT EVERY 1s;`,
  ],
  [
    "Top-N",
    `CREATE QUERY top_countries AS
  SELECT country, count(*) AS n
  FROM tweets
  WHERE text CONTAINS 'trump' OR text CONTAINS 'hillary'
  GROUP BY country
  WINDOW SLIDING 30s EVERY 5s
  ORDER BY n DESC LIMIT 5
  EMIT EVERY 1s;`,
  ],
  [
    "Filter",
    `CREATE QUERY viral AS
  SELECT id, user, retweets, text
  FROM tweets
  WHERE retweets >= 300;`,
  ],
];

class Page {
  private readonly stores = new Map<string, QueryStore>();
  private readonly cards = new Map<string, QueryCard>();
  private queries: QueryInfo[] = [];
  private selected: string | null = null;
  private planKey = "";

  private readonly streamsView = new StreamsView();
  private readonly throughput = new ThroughputView();
  private readonly queriesView = new QueriesView({
    select: (n) => this.select(n),
    drop: (n) => this.drop(n),
  });
  private readonly planBox = h("div.plans");
  private readonly explainText = h("pre.explain-text");
  private readonly cardGrid = h("div.qgrid", { "data-testid": "cards" });
  private readonly status = h("span.conn", { "data-testid": "connection" }, "connecting");
  private readonly uptime = h("span.topbar-fact");
  private readonly editor = new SqlEditor({ run: (t) => this.run(t) }, TEMPLATES);
  private readonly feed = new LiveFeed({
    result: (m) => this.storeOf(m.query).add(m),
    closed: (q) => this.forget(q),
    lagged: (q, n) => (this.storeOf(q).lagged += n),
    status: (up) => {
      this.status.textContent = up ? "live" : "reconnecting";
      this.status.classList.toggle("up", up);
    },
  });
  private readonly plans = new Map<string, PlanView>();

  constructor(root: HTMLElement) {
    root.append(
      h(
        "header.topbar",
        {},
        h("div.brand", {}, logo(), h("span.brand-name", {}, "Shoal"), h("span.brand-sub", {}, "continuous queries, one shared plan")),
        h("div.topbar-right", {}, this.uptime, this.status),
      ),
      h(
        "main.layout",
        {},
        h(
          "section.row.row-top",
          {},
          card("Streams", "Records in, per stream", this.streamsView.el, "streams-card"),
          card("Throughput", "Records per second in, results per second out", this.throughput.el, "throughput-card"),
        ),
        h(
          "section.row.row-mid",
          {},
          card("Statements", "Register a query (CREATE QUERY …), drop one, create a stream", this.editor.el, "editor-card"),
          card("Queries", "Counters since registration; select one to see its part of the plan", this.queriesView.el, "queries-card"),
        ),
        h(
          "section.block",
          {},
          h("div.block-head", {}, h("h2", {}, "Live results"), h("span.block-sub", {}, "Each query's top groups over windows, and its latest results")),
          this.cardGrid,
        ),
        h(
          "section.card.plan-card",
          { id: "plan-card" },
          h(
            "div.card-head",
            {},
            h("h2", {}, "Shared plan"),
            h("span.card-sub", {}, "Every piece is computed once per record for all the queries it serves; point at a piece or a query to follow it"),
          ),
          this.planBox,
          h("details.explain", {}, h("summary", {}, "EXPLAIN as text"), this.explainText),
        ),
      ),
    );
    void this.poll();
    setInterval(() => void this.poll(), POLL_MS);
    setInterval(() => this.draw(), DRAW_MS);
  }

  private storeOf(name: string): QueryStore {
    let s = this.stores.get(name);
    if (!s) {
      s = new QueryStore(name);
      this.stores.set(name, s);
    }
    return s;
  }

  /** Forgets a query's results (it was dropped). */
  private forget(name: string): void {
    this.feed.forget(name);
    this.stores.delete(name);
    this.cards.get(name)?.destroy();
    this.cards.delete(name);
  }

  private async poll(): Promise<void> {
    try {
      const [streams, queries, health] = await Promise.all([api.streams(), api.queries(), api.health()]);
      this.queries = queries;
      this.uptime.textContent = `up ${fmtDuration(health.uptime_seconds)} · ${health.streams} streams · ${health.queries} queries`;
      this.streamsView.show(streams);
      this.throughput.sample(streams);
      this.queriesView.show(queries);
      this.syncCards();
      const key = streams.map((s) => s.name).join(",") + "|" + queries.map((q) => q.name).join(",");
      if (key !== this.planKey) {
        this.planKey = key;
        this.showPlan(await api.explain());
      }
    } catch {
      this.uptime.textContent = "server unreachable";
    }
  }

  /** One card per query, in the server's order; subscribe to exactly those. */
  private syncCards(): void {
    const names = new Set(this.queries.map((q) => q.name));
    for (const name of [...this.cards.keys()]) {
      if (!names.has(name)) this.forget(name);
    }
    for (const q of this.queries) {
      let c = this.cards.get(q.name);
      if (!c) {
        c = new QueryCard(q, this.storeOf(q.name), (n) => this.select(n));
        this.cards.set(q.name, c);
      } else {
        c.setInfo(q);
      }
      c.setSelected(q.name === this.selected);
    }
    const ordered = this.queries.map((q) => this.cards.get(q.name)!.el);
    if (ordered.some((el, i) => this.cardGrid.children[i] !== el)) this.cardGrid.replaceChildren(...ordered);
    if (!ordered.length) this.cardGrid.replaceChildren(h("div.card.empty", {}, "No queries: register one above."));
    this.feed.setQueries(names);
  }

  private showPlan(e: Explain): void {
    this.explainText.textContent = e.text;
    const views: HTMLElement[] = [];
    const seen = new Set<string>();
    for (const p of e.streams) {
      seen.add(p.stream);
      let view = this.plans.get(p.stream);
      if (!view) {
        view = new PlanView((n) => this.select(n));
        this.plans.set(p.stream, view);
      }
      view.show(p);
      view.select(this.selected);
      const shared = p.predicates.filter((n) => n.queries.length > 1).length;
      const used = p.predicates.filter((n) => n.queries.length > 0).length;
      views.push(
        h(
          "div.plan",
          {},
          h(
            "div.plan-summary",
            {},
            h("span.stream-tag", {}, p.stream),
            h("span", {}, `${p.fields.length} fields decoded (${p.fields.join(", ") || "none"})`),
            h("span", {}, `${count(used, "predicate")}, ${shared} shared`),
            h("span", {}, count(p.hash_lookups.length, "hash lookup")),
            h("span", {}, count(p.pattern_scans.length, "pattern scan")),
            h("span", {}, count(p.states.length, "aggregation state")),
            h("span", {}, count(p.filters.length, "filter query", "filter queries")),
          ),
          view.el,
        ),
      );
    }
    for (const name of [...this.plans.keys()]) if (!seen.has(name)) this.plans.delete(name);
    if (!views.length) views.push(h("div.empty", {}, "No streams, so no plan."));
    replaceChildren(this.planBox, ...views);
  }

  private draw(): void {
    for (const c of this.cards.values()) c.render();
  }

  private select(name: string): void {
    this.selected = this.selected === name ? null : name;
    this.queriesView.select(this.selected);
    for (const [n, c] of this.cards) c.setSelected(n === this.selected);
    for (const v of this.plans.values()) v.select(this.selected);
    if (this.selected) document.getElementById("plan-card")?.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  private async drop(name: string): Promise<void> {
    try {
      await api.dropQuery(name);
    } catch (e) {
      alert(e instanceof Error ? e.message : String(e));
    }
    this.forget(name);
    this.planKey = "";
    await this.poll();
  }

  /** Runs the editor's statements; refreshes everything after. */
  private async run(text: string): Promise<{ error: StatementError | null; message: string }> {
    const reply = await api.execute(text);
    this.planKey = "";
    await this.poll();
    const done = reply.results.map(describe).filter(Boolean);
    if (reply.error) {
      return { error: reply.error, message: "" };
    }
    return { error: null, message: done.length ? done.join("; ") : "Done." };
  }
}

function describe(o: Outcome): string {
  switch (o.kind) {
    case "query_created":
      return `Registered query ${o.name} on ${o.stream}`;
    case "query_dropped":
      return `Dropped query ${o.name}`;
    case "stream_created":
      return `Created stream ${o.name}`;
    case "stream_dropped":
      return `Dropped stream ${o.name}`;
    case "explain":
      return "The plan is shown below";
    default:
      return "";
  }
}

/** `1 state`, `2 states`. */
function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function card(title: string, sub: string, body: HTMLElement, id: string): HTMLElement {
  return h("div.card", { id }, h("div.card-head", {}, h("h2", {}, title), h("span.card-sub", {}, sub)), body);
}

function logo(): HTMLElement {
  const el = h("span.logo", { "aria-hidden": "true" });
  el.innerHTML =
    '<svg viewBox="0 0 32 32" width="26" height="26"><rect width="32" height="32" rx="8" fill="#1d4ed8"/>' +
    '<path d="M6 20c3-5 7-5 10 0s7 5 10 0" stroke="#93c5fd" stroke-width="2.4" fill="none" stroke-linecap="round"/>' +
    '<path d="M6 13c3-5 7-5 10 0s7 5 10 0" stroke="#fff" stroke-width="2.4" fill="none" stroke-linecap="round"/></svg>';
  return el;
}

new Page(document.getElementById("app")!);
