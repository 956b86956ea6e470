// Builds the page into dist/: app.js (TypeScript and uPlot bundled), app.css
// and index.html. The output is committed, so that `cargo build` needs no
// npm; `web/build.sh` runs this after `npm ci`.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const here = new URL(".", import.meta.url).pathname;
const dist = `${here}dist`;

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: { app: `${here}src/main.ts` },
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  legalComments: "eof",
  outdir: dist,
  logLevel: "warning",
});
await copyFile(`${here}index.html`, `${dist}/index.html`);
