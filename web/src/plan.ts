// The shared plan of a stream drawn as a layered graph, left to right:
// automata (hash lookups, pattern scans) → predicates (atoms, then AND/OR/NOT
// by depth) → aggregation states → queries. Pointing at a node, or selecting
// a query, lights up everything connected to it, so one sees which shared
// pieces serve which queries.

import type { PlanDescription } from "./api";
import { fmtSpan, h, svg } from "./dom";

type Kind = "automaton" | "predicate" | "state" | "query";

interface GraphNode {
  key: string;
  kind: Kind;
  col: number;
  title: string;
  sub: string;
  /** Full text for the tooltip. */
  full: string;
  /** Queries served (a badge when more than one). */
  serves: number;
  y: number;
}

interface Graph {
  nodes: Map<string, GraphNode>;
  edges: [string, string][];
  columns: string[][];
  headings: string[];
}

const NODE_W = 200;
const QUERY_W = 180;
const NODE_H = 42;
const V_GAP = 12;
const COL_GAP = 64;
const TOP = 34;
const PAD = 8;

/** Builds the graph of one stream's plan. */
export function planGraph(p: PlanDescription): Graph {
  const nodes = new Map<string, GraphNode>();
  const edges: [string, string][] = [];
  const add = (n: Omit<GraphNode, "y">) => nodes.set(n.key, { ...n, y: 0 });

  // Predicate depth: atoms and constants 0, compound nodes one above their deepest child.
  const byId = new Map(p.predicates.map((n) => [n.id, n]));
  const depth = new Map<number, number>();
  const depthOf = (id: number): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id);
    const d = n && n.children.length ? 1 + Math.max(...n.children.map(depthOf)) : 0;
    depth.set(id, d);
    return d;
  };
  // Only predicates some query depends on (others are leftovers of the graph).
  const used = p.predicates.filter((n) => n.queries.length > 0);
  const maxDepth = Math.max(0, ...used.map((n) => depthOf(n.id)));
  const stateCol = 1 + maxDepth + 1;
  const queryCol = stateCol + 1;

  p.hash_lookups.forEach((hl, i) => {
    const key = `h${i}`;
    const served = new Set(hl.nodes.flatMap((n) => byId.get(n)?.queries ?? []));
    add({
      key,
      kind: "automaton",
      col: 0,
      title: `hash lookup · ${hl.field}`,
      sub: `${hl.values} ${hl.values === 1 ? "value" : "values"}, ${hl.nodes.length} ${hl.nodes.length === 1 ? "test" : "tests"}`,
      full: `One hash lookup of ${hl.field} answers ${hl.nodes.length} =/IN tests (${hl.values} distinct values)`,
      serves: served.size,
    });
    for (const n of hl.nodes) edges.push([key, `p${n}`]);
  });
  p.pattern_scans.forEach((sc, i) => {
    const key = `s${i}`;
    const engine = sc.regexes === 0 ? "Aho-Corasick" : sc.literals === 0 ? "regex scan" : "pattern scan";
    const parts = [
      sc.literals ? `${sc.literals} ${sc.literals === 1 ? "literal" : "literals"}` : "",
      sc.regexes ? `${sc.regexes} ${sc.regexes === 1 ? "regex" : "regexes"}` : "",
    ].filter(Boolean);
    const served = new Set(sc.nodes.flatMap((n) => byId.get(n)?.queries ?? []));
    add({
      key,
      kind: "automaton",
      col: 0,
      title: `${engine} · ${sc.field}`,
      sub: parts.join(", "),
      full: `One scan of ${sc.field} answers ${sc.nodes.length} CONTAINS/MATCHES tests (${parts.join(", ")})`,
      serves: served.size,
    });
    for (const n of sc.nodes) edges.push([key, `p${n}`]);
  });
  // A compound node's text names its children (`n0 AND n1`): spell them out.
  const spelled = (id: number, budget: number): string => {
    const n = byId.get(id);
    if (!n) return `n${id}`;
    if (!n.children.length || budget <= 0) return n.children.length ? `n${id}` : n.text;
    const parts = n.children.map((c) => {
      const inner = spelled(c, budget - 1);
      return byId.get(c)?.children.length ? `(${inner})` : inner;
    });
    return n.kind === "not" ? `NOT ${parts[0]}` : parts.join(` ${n.kind.toUpperCase()} `);
  };
  for (const n of used) {
    const isConst = n.kind === "const";
    const text = isConst && /true/i.test(n.text) ? "all records" : spelled(n.id, 3);
    const what =
      n.kind === "atom"
        ? "test"
        : n.kind === "const"
          ? "no WHERE"
          : `${n.kind.toUpperCase()} of ${n.children.map((c) => `n${c}`).join(", ")}`;
    add({
      key: `p${n.id}`,
      kind: "predicate",
      col: 1 + depthOf(n.id),
      title: text,
      sub: `n${n.id} · ${what}`,
      full: `n${n.id}: ${text}\nused by ${n.queries.join(", ")}`,
      serves: n.queries.length,
    });
    for (const c of n.children) edges.push([`p${c}`, `p${n.id}`]);
  }
  for (const s of p.states) {
    const key = `st${s.id}`;
    const group = s.keys.length ? `GROUP BY ${s.keys.join(", ")}` : "no GROUP BY";
    const pane = s.pane_ms === null ? "running totals" : `panes of ${fmtSpan(s.pane_ms)}`;
    add({
      key,
      kind: "state",
      col: stateCol,
      title: `s${s.id} · ${group}`,
      sub: `${pane} · ${s.accumulators.join(", ")}`,
      full: `aggregation state s${s.id}: ${group}, ${pane}\naccumulators: ${s.accumulators.join(", ")}\nread by ${s.queries.join(", ")}`,
      serves: s.queries.length,
    });
    edges.push([`p${s.filter}`, key]);
    for (const q of s.queries) edges.push([key, `q:${q}`]);
  }
  const queries = new Set<string>([...p.states.flatMap((s) => s.queries), ...p.filters.map((f) => f.query)]);
  for (const f of p.filters) edges.push([`p${f.filter}`, `q:${f.query}`]);
  for (const q of [...queries].sort()) {
    const isFilter = p.filters.some((f) => f.query === q);
    add({
      key: `q:${q}`,
      kind: "query",
      col: queryCol,
      title: q,
      sub: isFilter ? "filter query" : "aggregate query",
      full: q,
      serves: 0,
    });
  }
  // Edges only between drawn nodes (a predicate no query uses is not drawn).
  const drawn = edges.filter(([a, b]) => nodes.has(a) && nodes.has(b));
  const columns: string[][] = Array.from({ length: queryCol + 1 }, () => []);
  for (const n of nodes.values()) columns[n.col].push(n.key);
  const headings = columns.map((_, c) =>
    c === 0
      ? "Automata · one pass each"
      : c === 1
        ? "Predicates"
        : c < stateCol
          ? "AND / OR / NOT"
          : c === stateCol
            ? "Aggregation states"
            : "Queries",
  );
  const g: Graph = { nodes, edges: drawn, columns, headings };
  order(g);
  place(g);
  return g;
}

/** Orders each column to reduce crossings: a few barycentre sweeps. */
function order(g: Graph): void {
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  for (const [a, b] of g.edges) {
    (succs.get(a) ?? succs.set(a, []).get(a)!).push(b);
    (preds.get(b) ?? preds.set(b, []).get(b)!).push(a);
  }
  const pos = new Map<string, number>();
  const index = () => {
    for (const col of g.columns) col.forEach((k, i) => pos.set(k, (i + 0.5) / col.length));
  };
  index();
  const sortBy = (col: string[], nbrs: Map<string, string[]>) => {
    const bary = new Map<string, number>();
    for (const k of col) {
      const ns = (nbrs.get(k) ?? []).map((n) => pos.get(n) ?? 0.5);
      bary.set(k, ns.length ? ns.reduce((a, b) => a + b, 0) / ns.length : (pos.get(k) ?? 0.5));
    }
    col.sort((a, b) => bary.get(a)! - bary.get(b)!);
    col.forEach((k, i) => pos.set(k, (i + 0.5) / col.length));
  };
  const last = g.columns.length - 1;
  for (let round = 0; round < 4; round++) {
    for (let c = last - 1; c >= 0; c--) sortBy(g.columns[c], succs);
    for (let c = 1; c <= last; c++) sortBy(g.columns[c], preds);
  }
}

/** Gives nodes y positions: near their neighbours, in column order, never overlapping. */
function place(g: Graph): void {
  const step = NODE_H + V_GAP;
  const tallest = Math.max(1, ...g.columns.map((c) => c.length));
  const height = tallest * step;
  const nbrs = new Map<string, string[]>();
  for (const [a, b] of g.edges) {
    (nbrs.get(a) ?? nbrs.set(a, []).get(a)!).push(b);
    (nbrs.get(b) ?? nbrs.set(b, []).get(b)!).push(a);
  }
  // Start spread evenly over the tallest column's height.
  for (const col of g.columns) {
    const offset = (height - col.length * step) / 2;
    col.forEach((k, i) => (g.nodes.get(k)!.y = TOP + offset + i * step));
  }
  const settle = (col: string[]) => {
    const want = col.map((k) => {
      const ns = nbrs.get(k) ?? [];
      const ys = ns.map((n) => g.nodes.get(n)!.y);
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : g.nodes.get(k)!.y;
    });
    // Push down to remove overlaps, then up to stay within the top.
    const ys = want.slice();
    for (let i = 0; i < ys.length; i++) {
      ys[i] = Math.max(ys[i], i === 0 ? TOP : ys[i - 1] + step);
    }
    const bottom = TOP + height - step;
    for (let i = ys.length - 1; i >= 0; i--) {
      ys[i] = Math.min(ys[i], i === ys.length - 1 ? Math.max(bottom, ys[i]) : ys[i + 1] - step);
      ys[i] = Math.max(ys[i], TOP + i * step);
    }
    col.forEach((k, i) => (g.nodes.get(k)!.y = ys[i]));
  };
  for (let round = 0; round < 3; round++) {
    for (const col of g.columns) if (col.length < tallest) settle(col);
    for (const col of [...g.columns].reverse()) if (col.length < tallest) settle(col);
  }
}

function colX(col: number): number {
  return PAD + col * (NODE_W + COL_GAP);
}

function nodeWidth(n: GraphNode): number {
  return n.kind === "query" ? QUERY_W : NODE_W;
}

function clip(text: string, width: number, charWidth: number): string {
  const max = Math.floor((width - 22) / charWidth);
  return text.length > max ? text.slice(0, Math.max(1, max - 1)) + "…" : text;
}

/** The drawing of one stream's plan, with hover and selection highlights. */
export class PlanView {
  readonly el: HTMLElement;
  private root: SVGSVGElement | null = null;
  private links = new Map<string, Set<string>>();
  private selected: string | null = null;
  private signature = "";

  constructor(private readonly onSelectQuery: (name: string) => void) {
    this.el = h("div.plan-canvas", { "data-testid": "plan" });
  }

  /** Draws the plan (only when it changed). */
  show(p: PlanDescription): void {
    const signature = JSON.stringify(p);
    if (signature === this.signature) return;
    this.signature = signature;
    const g = planGraph(p);
    const up = new Map<string, string[]>();
    const down = new Map<string, string[]>();
    for (const [a, b] of g.edges) {
      (down.get(a) ?? down.set(a, []).get(a)!).push(b);
      (up.get(b) ?? up.set(b, []).get(b)!).push(a);
    }
    // Everything upstream and downstream of each node.
    this.links.clear();
    for (const key of g.nodes.keys()) {
      const seen = new Set([key]);
      const walk = (k: string, dir: Map<string, string[]>) => {
        for (const n of dir.get(k) ?? []) {
          if (!seen.has(n)) {
            seen.add(n);
            walk(n, dir);
          }
        }
      };
      walk(key, up);
      walk(key, down);
      this.links.set(key, seen);
    }

    const width = colX(g.columns.length - 1) + QUERY_W + PAD;
    const height = Math.max(...[...g.nodes.values()].map((n) => n.y + NODE_H), TOP + NODE_H) + PAD;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "plan-svg", role: "img" });
    root.append(svg("title", {}, `Shared plan of ${p.stream}`));
    g.headings.forEach((text, c) => {
      if (!g.columns[c].length) return;
      root.append(svg("text", { x: colX(c), y: 16, class: "plan-heading" }, text));
    });
    const edgeLayer = svg("g", { class: "plan-edges" });
    for (const [a, b] of g.edges) {
      const na = g.nodes.get(a)!;
      const nb = g.nodes.get(b)!;
      const x1 = colX(na.col) + nodeWidth(na);
      const y1 = na.y + NODE_H / 2;
      const x2 = colX(nb.col);
      const y2 = nb.y + NODE_H / 2;
      const mid = (x2 - x1) * 0.5;
      edgeLayer.append(
        svg("path", {
          d: `M${x1},${y1} C${x1 + mid},${y1} ${x2 - mid},${y2} ${x2},${y2}`,
          class: "plan-edge",
          "data-from": a,
          "data-to": b,
        }),
      );
    }
    root.append(edgeLayer);
    for (const n of g.nodes.values()) {
      const w = nodeWidth(n);
      const x = colX(n.col);
      const node = svg("g", {
        class: `plan-node kind-${n.kind}`,
        transform: `translate(${x},${n.y})`,
        "data-key": n.key,
        tabindex: 0,
      });
      node.append(svg("title", {}, n.full));
      node.append(svg("rect", { width: w, height: NODE_H, rx: 7, class: "plan-box" }));
      node.append(svg("rect", { width: 4, height: NODE_H - 12, x: 5, y: 6, rx: 2, class: "plan-bar" }));
      const titleClass = n.kind === "query" ? "plan-title mono" : "plan-title";
      node.append(svg("text", { x: 16, y: 18, class: titleClass }, clip(n.title, w - (n.serves > 1 ? 30 : 0), 6.6)));
      node.append(svg("text", { x: 16, y: 33, class: "plan-sub" }, clip(n.sub, w, 5.9)));
      if (n.serves > 1) {
        node.append(svg("rect", { x: w - 34, y: 7, width: 28, height: 16, rx: 8, class: "plan-badge" }));
        node.append(svg("text", { x: w - 20, y: 19, class: "plan-badge-text", "text-anchor": "middle" }, `×${n.serves}`));
      }
      node.addEventListener("mouseenter", () => this.light(n.key));
      node.addEventListener("mouseleave", () => this.light(this.selected ? `q:${this.selected}` : null));
      if (n.kind === "query") {
        node.addEventListener("click", () => this.onSelectQuery(n.title));
      }
      root.append(node);
    }
    this.root = root;
    this.el.replaceChildren(root);
    this.light(this.selected ? `q:${this.selected}` : null);
  }

  /** Highlights a query's part of the plan (null: none). */
  select(query: string | null): void {
    this.selected = query;
    this.light(query ? `q:${query}` : null);
  }

  private light(key: string | null): void {
    const root = this.root;
    if (!root) return;
    const set = key ? this.links.get(key) : undefined;
    root.classList.toggle("focus", !!set);
    for (const el of root.querySelectorAll<SVGGElement>(".plan-node")) {
      el.classList.toggle("lit", !!set && set.has(el.dataset.key!));
    }
    for (const el of root.querySelectorAll<SVGPathElement>(".plan-edge")) {
      el.classList.toggle("lit", !!set && set.has(el.dataset.from!) && set.has(el.dataset.to!));
    }
  }
}
