// The page in a real browser, against a real server: `shoal serve --demo` on
// a free port, Debian's Chromium driven headless by playwright-core. Registers
// a query through the editor, waits for its live rows and a drawn chart,
// checks that a bad query shows its error at its position, follows a query
// through the shared plan, drops a query, and saves a screenshot.
//
// Run by `.ci/run` (after `cargo build`), or by hand from web/:
//   npm ci && node --test test/
// SHOAL_BIN (default target/debug/shoal), CHROMIUM (default /usr/bin/chromium)
// and SCREENSHOT (default target/web-screenshot.png) override the paths.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = process.env.SHOAL_BIN ?? join(repo, "target", "debug", "shoal");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const screenshot = process.env.SCREENSHOT ?? join(repo, "target", "web-screenshot.png");

/** Longest wait for one thing to appear on the page. */
const WAIT_MS = 30_000;

let server;
let serverLog = "";
let base;
let profile;
let context;
let page;
const pageErrors = [];

/** Starts the server and returns its address, read from its first stdout line. */
function startServer() {
  server = spawn(bin, ["serve", "--demo", "--bind", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stderr.on("data", (d) => (serverLog += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line in 60 s:\n${serverLog}`)), 60_000);
    server.on("error", (e) => reject(new Error(`cannot start ${bin}: ${e.message}`)));
    server.on("exit", (code) => reject(new Error(`the server exited (${code}) before listening:\n${serverLog}`)));
    const lines = createInterface({ input: server.stdout });
    lines.once("line", (line) => {
      clearTimeout(timer);
      const m = /^listening on (http:\/\/\S+)$/.exec(line);
      if (m) resolve(m[1]);
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
}

async function getJson(path) {
  const r = await fetch(base + path);
  assert.equal(r.status, 200, `${path}: HTTP ${r.status}`);
  return r.json();
}

/** Replaces the editor's text, as a person would: select all, type. */
async function typeStatement(sql) {
  const editor = page.getByTestId("editor");
  await editor.click();
  await editor.press("ControlOrMeta+a");
  await editor.press("Delete");
  await editor.pressSequentially(sql, { delay: 2 });
}

before(async () => {
  base = await startServer();
  profile = await mkdtemp(join(tmpdir(), "shoal-web-test-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    // The browser logs every 4xx answer; bad statements are meant to get one.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
  });
  await page.goto(base + "/");
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  server?.kill("SIGTERM");
});

test("the page is served by the binary and loads without errors", async () => {
  const r = await fetch(base + "/");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/html/);
  await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
  assert.equal(await page.title(), "Shoal");
});

test("streams show their rate and queries their counters", async () => {
  const stream = page.locator('[data-stream="tweets"]');
  await stream.waitFor();
  // The demo feeds about 200 tweets a second: the rate shown becomes positive.
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-stream="tweets"] [data-testid="stream-rate"]');
    return el && Number(el.textContent.replace(/,/g, "")) > 0;
  });
  const demo = ["by_lang", "en_by_country", "fbi_from_big_accounts", "trending_tags"];
  for (const name of demo) {
    await page.locator(`[data-testid="queries"] tr[data-query="${name}"]`).waitFor();
  }
  // Counters on the page are the server's: by_lang matches every record, so
  // its matched count grows.
  const matched = async () =>
    Number(
      (await page.locator('[data-testid="queries"] tr[data-query="by_lang"] td.num').first().textContent()).replace(/,/g, ""),
    );
  const first = await matched();
  await page.waitForFunction(
    (n) => {
      const td = document.querySelector('[data-testid="queries"] tr[data-query="by_lang"] td.num');
      return td && Number(td.textContent.replace(/,/g, "")) > n;
    },
    first,
  );
  const server = await getJson("/v1/queries/by_lang");
  assert.ok(server.counters.matched >= first, `server matched ${server.counters.matched} < page ${first}`);
});

test("a query registered through the editor shows live rows and a drawn chart", async () => {
  await typeStatement(
    "CREATE QUERY web_langs AS\n  SELECT lang, count(*) AS n\n  FROM tweets\n  GROUP BY lang\n  WINDOW TUMBLING 1s;",
  );
  await page.getByTestId("run").click();
  await page.getByTestId("editor-message").filter({ hasText: "Registered query web_langs on tweets" }).waitFor();
  const { queries } = await getJson("/v1/queries");
  assert.ok(
    queries.some((q) => q.name === "web_langs"),
    "the server has the query",
  );

  const card = page.locator('[data-testid="query-card"][data-query="web_langs"]');
  await card.locator('[data-testid="results"] tbody tr').first().waitFor();
  // Rows are the query's groups: a language and a positive count.
  const cells = await card.locator('[data-testid="results"] tbody tr').first().locator("td").allTextContents();
  assert.equal(cells.length, 2, `a row has lang and n: ${cells}`);
  assert.match(cells[0], /^[a-z]{2}$/);
  assert.ok(Number(cells[1].replace(/,/g, "")) > 0, `n = ${cells[1]}`);

  // The chart draws a line once two windows have closed: the first series'
  // colour appears on its canvas.
  await card.locator('[data-testid="chart"] canvas').waitFor();
  await page.waitForFunction(
    () => {
      const canvas = document.querySelector('[data-query="web_langs"] [data-testid="chart"] canvas');
      if (!canvas || canvas.width === 0) return false;
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let hits = 0;
      for (let i = 0; i < data.length; i += 4) {
        // PALETTE[0], #2563eb.
        if (Math.abs(data[i] - 37) < 30 && Math.abs(data[i + 1] - 99) < 30 && Math.abs(data[i + 2] - 235) < 30) hits++;
      }
      return hits > 100;
    },
    undefined,
    { polling: 250 },
  );
});

test("a bad query shows its error in place, at its line and column", async () => {
  const sql = "CREATE QUERY bad AS\n  SELECT lang, count(*) AS n\n  FORM tweets;";
  await typeStatement(sql);
  await page.getByTestId("editor").press("ControlOrMeta+Enter");
  const position = page.getByTestId("error-position");
  await position.waitFor();
  // The page shows where the server says the error is, and that is the
  // misspelled FROM: line 3, column 3.
  const r = await fetch(base + "/v1/statements", { method: "POST", body: sql });
  assert.equal(r.status, 400);
  const { error } = await r.json();
  assert.equal(error.line, 3);
  assert.equal(error.column, 3);
  assert.equal(error.token, "FORM");
  assert.equal(await position.textContent(), `line ${error.line}, column ${error.column}`);
  assert.equal(await page.getByTestId("error-text").textContent(), error.message);
  assert.equal(await page.getByTestId("error-mark").textContent(), "FORM");
  // The caret is put on the token, and its line number is marked.
  const selection = await page.getByTestId("editor").evaluate((t) => [t.selectionStart, t.selectionEnd]);
  assert.deepEqual(selection, [sql.indexOf("FORM"), sql.indexOf("FORM") + 4]);
  assert.equal(await page.locator(".editor-gutter .err-line").textContent(), "3");

  // A name error (planner, not parser) points at its token too.
  await typeStatement("CREATE QUERY bad AS SELECT nosuch, count(*) AS n FROM tweets GROUP BY nosuch;");
  await page.getByTestId("run").click();
  await page.getByTestId("error-mark").filter({ hasText: "nosuch" }).waitFor();
  assert.match(await position.textContent(), /^line 1, column \d+$/);
  const { queries } = await getJson("/v1/queries");
  assert.ok(!queries.some((q) => q.name === "bad"), "a bad query is not registered");
});

test("the shared plan shows which pieces serve which query", async () => {
  const plan = page.getByTestId("plan");
  await plan.locator('.plan-node[data-key="q:en_by_country"]').waitFor();
  await plan.locator('.plan-node[data-key="q:web_langs"]').waitFor();
  await plan.locator('.plan-node[data-key="q:en_by_country"]').hover();
  const lit = await plan.locator(".plan-node.lit").evaluateAll((els) => els.map((e) => e.dataset.key));
  const explain = await getJson("/v1/explain");
  const p = explain.streams.find((s) => s.stream === "tweets");
  // en_by_country's WHERE is answered by the hash lookup of lang and the scan
  // of text; both are lit, and so is its aggregation state.
  const lookup = p.hash_lookups.findIndex((l) => l.field === "lang");
  const scan = p.pattern_scans.findIndex((s) => s.field === "text");
  const state = p.states.find((s) => s.queries.includes("en_by_country"));
  for (const key of [`h${lookup}`, `s${scan}`, `st${state.id}`, "q:en_by_country"]) {
    assert.ok(lit.includes(key), `${key} is lit: ${lit}`);
  }
  // Queries it shares nothing with are not.
  assert.ok(!lit.includes("q:by_lang"), `by_lang is not lit: ${lit}`);
  await page.mouse.move(0, 0);
});

test("screenshot of the page", async () => {
  // Wait for the demo's windowed query to have a chart as well.
  await page.locator('[data-query="trending_tags"] [data-testid="chart"] canvas').waitFor();
  await mkdir(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
});

test("a query dropped from the table leaves the page and the server", async () => {
  const drop = page.getByTestId("drop-web_langs");
  await drop.click();
  await drop.filter({ hasText: "Confirm drop" }).click();
  await page.locator('[data-testid="query-card"][data-query="web_langs"]').waitFor({ state: "detached" });
  const { queries } = await getJson("/v1/queries");
  assert.ok(!queries.some((q) => q.name === "web_langs"));
  assert.deepEqual(pageErrors, [], "no errors in the page's console");
});
