// The page's data logic without a browser: how a query's results are kept
// (store.ts), and where an error's byte offset falls in the editor's text
// (editor.ts). The TypeScript is bundled by esbuild into a temporary module.

import { before, test } from "node:test";
import assert from "node:assert/strict";
import { build } from "esbuild";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
let QueryStore;
let groupLabel;
let byteOffsetToIndex;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), "shoal-web-unit-"));
  try {
    const out = join(dir, "units.mjs");
    await build({
      stdin: {
        contents: `export { QueryStore, groupLabel } from "./store"; export { byteOffsetToIndex } from "./editor";`,
        resolveDir: src,
        loader: "ts",
      },
      bundle: true,
      format: "esm",
      platform: "neutral",
      outfile: out,
      logLevel: "error",
    });
    ({ QueryStore, groupLabel, byteOffsetToIndex } = await import(pathToFileURL(out).href));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const win = (start, end, group, values, partial = false) => ({
  query: "q",
  window_start: start,
  window_end: end,
  group,
  values,
  ...(partial ? { partial: true } : {}),
});

test("a window's final result replaces its partials, groups that left the top included", () => {
  const s = new QueryStore("q");
  s.add(win(0, 10_000, { tag: "a" }, { n: 3 }, true), 1000);
  s.add(win(0, 10_000, { tag: "b" }, { n: 2 }, true), 1000);
  s.add(win(0, 10_000, { tag: "a" }, { n: 7 }), 11_000);
  const w = s.windows.get(10_000);
  assert.equal(w.partial, false);
  assert.deepEqual(
    [...w.groups.values()].map((g) => [g.group.tag, g.values.n]),
    [["a", 7]],
  );
  assert.deepEqual(s.groupCols, ["tag"]);
  assert.deepEqual(s.valueCols, ["n"]);
});

test("the chart draws the top groups over closed windows and the live open window", () => {
  const s = new QueryStore("q");
  // Two closed windows, then one open window pushed at t = 30 s.
  s.add(win(0, 10_000, { k: "x" }, { n: 5 }), 10_500);
  s.add(win(0, 10_000, { k: "y" }, { n: 1 }), 10_500);
  s.add(win(0, 10_000, { k: "z" }, { n: 9 }), 10_500);
  s.add(win(10_000, 20_000, { k: "x" }, { n: 6 }), 20_500);
  s.add(win(10_000, 20_000, { k: "z" }, { n: 1 }), 20_500);
  s.add(win(20_000, 30_000, { k: "x" }, { n: 2 }, true), 25_000);
  s.add(win(30_000, 40_000, { k: "x" }, { n: 1 }, true), 25_000);
  const series = s.series("n", 2, 26_000);
  // The open window that closes next is drawn, not the later one.
  assert.deepEqual(series.xs, [10, 20, 30]);
  // x totals 13, z 10, y 1: the top two, largest first; z has no value in
  // the open window yet.
  assert.deepEqual(
    series.groups.map((g) => [g.label, g.ys]),
    [
      ["x", [5, 6, 2]],
      ["z", [9, 1, null]],
    ],
  );
  // Once its pushes stop (no EMIT EVERY), an open window is no longer drawn.
  assert.deepEqual(s.series("n", 2, 40_000).xs, [10, 20]);
});

test("the table shows the live open window, or the window that closed after it", () => {
  const s = new QueryStore("q");
  s.add(win(0, 10_000, { k: "x" }, { n: 5 }), 10_500);
  assert.equal(s.tableWindow(10_600).end, 10_000);
  s.add(win(10_000, 20_000, { k: "x" }, { n: 1 }, true), 11_000);
  s.add(win(15_000, 25_000, { k: "x" }, { n: 1 }, true), 11_000);
  assert.equal(s.tableWindow(11_100).end, 20_000);
  s.add(win(10_000, 20_000, { k: "x" }, { n: 4 }), 20_500);
  assert.equal(s.tableWindow(20_600).end, 20_000);
  assert.equal(s.tableWindow(20_600).partial, false);
  assert.deepEqual(
    s.tableRows("n").map((r) => r.values.n),
    [4],
  );
});

test("running totals keep each group's latest value and carry it over seconds without change", () => {
  const s = new QueryStore("q");
  const total = (k, n) => ({ query: "q", window_start: null, window_end: null, group: { k }, values: { n } });
  s.add(total("a", 1), 1_000);
  s.add(total("b", 5), 1_200);
  s.add(total("a", 3), 3_000);
  assert.equal(s.running, true);
  assert.deepEqual(
    s.tableRows("n").map((r) => [r.group.k, r.values.n]),
    [
      ["b", 5],
      ["a", 3],
    ],
  );
  const series = s.series("n", 5, 3_500);
  assert.deepEqual(series.xs, [1, 3]);
  assert.deepEqual(
    series.groups.map((g) => [g.label, g.ys]),
    [
      ["b", [5, 5]],
      ["a", [1, 3]],
    ],
  );
});

test("filter rows are kept newest first and counted per second", () => {
  const s = new QueryStore("q");
  s.add({ query: "q", row: { id: 1 } }, 1_100);
  s.add({ query: "q", row: { id: 2 } }, 1_900);
  s.add({ query: "q", row: { id: 3 } }, 3_050);
  assert.equal(s.isFilter, true);
  assert.deepEqual(
    s.rows.map((r) => r.row.id),
    [3, 2, 1],
  );
  const series = s.series("", 1, 4_500);
  assert.deepEqual(series.xs, [1, 2, 3]);
  assert.deepEqual(series.groups[0].ys, [2, 0, 1]);
});

test("group labels join the key values", () => {
  assert.equal(groupLabel({ country: "US", lang: "en" }), "US · en");
  assert.equal(groupLabel({ country: null }), "NULL");
  assert.equal(groupLabel({}), "all");
});

test("an error's byte offset maps to the editor's character index", () => {
  assert.equal(byteOffsetToIndex("SELECT x", 7), 7);
  // 'é' is two bytes, '😀' four bytes and two UTF-16 units.
  const text = "'é' 😀 FORM";
  assert.equal(byteOffsetToIndex(text, Buffer.byteLength("'é' 😀 ")), text.indexOf("FORM"));
  assert.equal(byteOffsetToIndex(text, 1000), text.length);
});
