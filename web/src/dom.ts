// Small DOM and formatting helpers shared by the page's parts.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

/** Creates an element: `h("div.card#id", {title: "…", onclick: f}, children…)`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  spec: K | `${K}.${string}` | `${K}#${string}`,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const [tagAndId, ...classes] = spec.split(".");
  const [tag, id] = tagAndId.split("#");
  const el = document.createElement(tag as K);
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") {
      el.className = [el.className, String(v)].filter(Boolean).join(" ");
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Creates an SVG element with attributes. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

/** Replaces an element's children. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

const intFormat = new Intl.NumberFormat("en-US");
const compactFormat = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** An integer with thousands separators. */
export function fmtInt(n: number): string {
  return intFormat.format(Math.round(n));
}

/** A number in few characters: 1.2K, 3.4M. */
export function fmtCompact(n: number): string {
  return Math.abs(n) < 10000 ? fmtNumber(n) : compactFormat.format(n);
}

/** A value of a result: integers as they are, fractions to 3 significant places. */
export function fmtNumber(n: number): string {
  // Large integers are identifiers more often than amounts: no separators.
  if (Number.isInteger(n)) return Math.abs(n) < 1e12 ? intFormat.format(n) : String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  return n.toFixed(digits);
}

/** Any result value as text. */
export function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") return fmtNumber(v);
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** A clock time, `12:04:05`. */
export function fmtTime(ms: number): string {
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

/** A duration in seconds as `1h 02m`, `3m 04s` or `12s`. */
export function fmtDuration(s: number): string {
  const t = Math.floor(s);
  const hours = Math.floor(t / 3600);
  const minutes = Math.floor((t % 3600) / 60);
  const seconds = t % 60;
  if (hours) return `${hours}h ${String(minutes).padStart(2, "0")}m`;
  if (minutes) return `${minutes}m ${String(seconds).padStart(2, "0")}s`;
  return `${seconds}s`;
}

/** A window or pane length in milliseconds as `10s`, `5m`, `250ms`. */
export function fmtSpan(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Colours of chart series and plan highlights, told apart easily. */
export const PALETTE = [
  "#2563eb",
  "#e8590c",
  "#0f9d58",
  "#c2255c",
  "#7048e8",
  "#0c8599",
  "#b08900",
  "#5c677d",
];
