#!/usr/bin/env bash
# Rebuilds the page into web/dist from a clean install of web/package-lock.json:
# type-checks the TypeScript, then bundles it (with uPlot) and the styles.
# web/dist is committed, so `cargo build` needs no npm; run this after
# changing anything under web/src and commit the result (.ci/run checks that
# the committed build is what this produces).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
npx tsc --noEmit -p .
node build.mjs
