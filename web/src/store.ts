// The results of one query kept in the page: the windows seen (or, for
// running totals, the values over time), and for filter queries the recent
// rows and matches per second. Derives the table and the chart's series.

import type { ResultMessage } from "./live";

/** Windows (or seconds of running totals) kept for the chart. */
export const HISTORY = 90;
/** Filter rows kept for the table. */
const ROWS_KEPT = 100;
/** Seconds of filter matches kept for the chart. */
const MATCH_SECONDS = 120;
/**
 * An open window whose partial values are older than this is not shown live:
 * without `EMIT EVERY` only the first snapshot has them, and on a chart they
 * would stay as a stale dip until the window closes.
 */
const STALE_PARTIAL_MS = 2500;

/** One group's values in one window. */
export interface GroupValues {
  group: Record<string, unknown>;
  values: Record<string, unknown>;
  partial: boolean;
}

/** A window's results, keyed by group. */
export interface WindowResults {
  start: number | null;
  end: number;
  partial: boolean;
  groups: Map<string, GroupValues>;
  updatedAt: number;
}

/** The chart's data: x in seconds, one series of y per group. */
export interface Series {
  xs: number[];
  groups: { key: string; label: string; ys: (number | null)[] }[];
}

/** A group's display label: its key values joined. */
export function groupLabel(group: Record<string, unknown>): string {
  const parts = Object.values(group).map((v) => (v === null ? "NULL" : String(v)));
  return parts.length ? parts.join(" · ") : "all";
}

/** The results of one query. */
export class QueryStore {
  /** Bumped on every change, so the view redraws only what changed. */
  version = 0;
  received = 0;
  lagged = 0;
  lastAt = 0;
  /** Column names, in the order the server sends them. */
  groupCols: string[] = [];
  valueCols: string[] = [];
  rowCols: string[] = [];
  /** Running totals (no window) rather than windows. */
  running = false;
  /** Windows by end (windowed) or by second of arrival (running totals). */
  readonly windows = new Map<number, WindowResults>();
  /** Running totals: the current values per group. */
  readonly current = new Map<string, GroupValues>();
  /** Filter queries: recent rows, newest first. */
  rows: { row: Record<string, unknown>; at: number }[] = [];
  /** Filter queries: matches per second of arrival. */
  readonly matches = new Map<number, number>();

  constructor(readonly name: string) {}

  /** Takes one result. */
  add(msg: ResultMessage, now = Date.now()): void {
    this.received++;
    this.lastAt = now;
    this.version++;
    if (msg.row) {
      this.addRow(msg.row, now);
    } else if (msg.values) {
      this.addAggregate(msg, now);
    }
  }

  private addRow(row: Record<string, unknown>, now: number): void {
    if (!this.rowCols.length) this.rowCols = Object.keys(row);
    this.rows.unshift({ row, at: now });
    if (this.rows.length > ROWS_KEPT) this.rows.length = ROWS_KEPT;
    const second = Math.floor(now / 1000) * 1000;
    this.matches.set(second, (this.matches.get(second) ?? 0) + 1);
    if (this.matches.size > MATCH_SECONDS) {
      const oldest = Math.min(...this.matches.keys());
      this.matches.delete(oldest);
    }
  }

  private addAggregate(msg: ResultMessage, now: number): void {
    const group = msg.group ?? {};
    const values = msg.values ?? {};
    if (!this.valueCols.length) {
      this.groupCols = Object.keys(group);
      this.valueCols = Object.keys(values);
    }
    const key = JSON.stringify(Object.values(group));
    const partial = msg.partial === true;
    let end: number;
    let start: number | null;
    if (msg.window_end === null || msg.window_end === undefined) {
      this.running = true;
      this.current.set(key, { group, values, partial: false });
      end = Math.floor(now / 1000) * 1000;
      start = null;
    } else {
      end = msg.window_end;
      start = msg.window_start ?? null;
    }
    let w = this.windows.get(end);
    if (!w) {
      w = { start, end, partial, groups: new Map(), updatedAt: now };
      this.windows.set(end, w);
      this.trim();
    }
    if (!this.running && w.partial && !partial) {
      // The final result replaces the partials (groups may have left the top).
      w.groups.clear();
      w.partial = false;
    }
    w.updatedAt = now;
    w.groups.set(key, { group, values, partial });
  }

  private trim(): void {
    if (this.windows.size <= HISTORY) return;
    const ends = [...this.windows.keys()].sort((a, b) => a - b);
    for (const e of ends.slice(0, ends.length - HISTORY)) this.windows.delete(e);
  }

  /** Whether this is a filter query's store (rows rather than groups). */
  get isFilter(): boolean {
    return this.rowCols.length > 0;
  }

  /** The numeric value columns, those a chart can draw. */
  numericCols(): string[] {
    const cols = new Set<string>();
    for (const w of this.windows.values()) {
      for (const g of w.groups.values()) {
        for (const c of this.valueCols) if (typeof g.values[c] === "number") cols.add(c);
      }
      if (cols.size === this.valueCols.length) break;
    }
    return this.valueCols.filter((c) => cols.has(c));
  }

  /**
   * The open window shown live: of the open windows still being pushed
   * (`EMIT EVERY`), the one that closes next, the most complete (sliding
   * windows have several open at once).
   */
  liveWindow(now = Date.now()): WindowResults | null {
    let best: WindowResults | null = null;
    for (const w of this.windows.values()) {
      if (w.partial && now - w.updatedAt <= STALE_PARTIAL_MS && (!best || w.end < best.end)) best = w;
    }
    return best;
  }

  /**
   * The window the table shows: the open window shown live, unless a window
   * closed since it was last pushed; else the latest closed window; else the
   * open window that closes next.
   */
  tableWindow(now = Date.now()): WindowResults | null {
    let final: WindowResults | null = null;
    let open: WindowResults | null = null;
    for (const w of this.windows.values()) {
      if (!w.partial && (!final || w.end > final.end)) final = w;
      if (w.partial && (!open || w.end < open.end)) open = w;
    }
    const live = this.liveWindow(now);
    if (live && (!final || final.updatedAt < live.updatedAt)) return live;
    return final ?? open;
  }

  /** The table's rows: the current totals or the shown window's groups, largest `metric` first. */
  tableRows(metric: string | null): GroupValues[] {
    const rows = this.running ? [...this.current.values()] : [...(this.tableWindow()?.groups.values() ?? [])];
    if (metric) rows.sort((a, b) => num(b.values[metric]) - num(a.values[metric]));
    return rows;
  }

  /** The chart's data for `metric`: the `top` groups with the largest values over the history. */
  series(metric: string, top: number, now = Date.now()): Series {
    if (this.isFilter) {
      const seconds = [...this.matches.keys()].sort((a, b) => a - b);
      if (!seconds.length) return { xs: [], groups: [] };
      // Every second from the first to now, with zeros where nothing matched.
      const last = Math.max(seconds[seconds.length - 1], Math.floor(now / 1000) * 1000 - 1000);
      const xs: number[] = [];
      const ys: number[] = [];
      for (let t = Math.max(seconds[0], last - (MATCH_SECONDS - 1) * 1000); t <= last; t += 1000) {
        xs.push(t / 1000);
        ys.push(this.matches.get(t) ?? 0);
      }
      return { xs, groups: [{ key: "matches", label: "matches/s", ys }] };
    }
    // Closed windows, and the open window shown live.
    const live = this.liveWindow(now);
    const ends = [...this.windows.values()]
      .filter((w) => !w.partial || w === live)
      .map((w) => w.end)
      .sort((a, b) => a - b);
    const totals = new Map<string, { label: string; total: number }>();
    for (const e of ends) {
      for (const [key, g] of this.windows.get(e)!.groups) {
        const t = totals.get(key) ?? { label: groupLabel(g.group), total: 0 };
        // Running totals only grow: rank them by their latest value.
        t.total = this.running ? Math.max(t.total, num(g.values[metric])) : t.total + num(g.values[metric]);
        totals.set(key, t);
      }
    }
    const chosen = [...totals.entries()].sort((a, b) => b[1].total - a[1].total).slice(0, top);
    const groups = chosen.map(([key, t]) => {
      let carried: number | null = null;
      const ys = ends.map((e) => {
        const v = this.windows.get(e)?.groups.get(key)?.values[metric];
        if (typeof v === "number") carried = v;
        // A running total keeps its value while it does not change; a window
        // without the group has none of it.
        return typeof v === "number" ? v : this.running ? carried : null;
      });
      return { key, label: t.label, ys };
    });
    return { xs: ends.map((e) => e / 1000), groups };
  }
}

function num(v: unknown): number {
  return typeof v === "number" ? v : 0;
}
