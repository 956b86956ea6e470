// Builds the page into dist/: app.js (TypeScript and uPlot bundled), app.css
// and index.html. The output is committed, so that `cargo build` needs no
// npm; `web/build.sh` runs this after `npm ci`.
import { build } from "esbuild";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";

const here = new URL(".", import.meta.url).pathname;
const dist = `${here}dist`;

const uplot = JSON.parse(await readFile(`${here}node_modules/uplot/package.json`, "utf8"));
const notice = `/*! uPlot v${uplot.version} (c) Leon Sorokin, ${uplot.license} License, https://github.com/leeoniya/uPlot */`;

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: { app: `${here}src/main.ts` },
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  legalComments: "eof",
  // uPlot's notice (MIT), which its header comment does not mark as legal.
  banner: { js: notice, css: notice },
  outdir: dist,
  logLevel: "warning",
});
await copyFile(`${here}index.html`, `${dist}/index.html`);
