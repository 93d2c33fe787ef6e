#!/usr/bin/env bash
# npm run build: the program as JavaScript in dist/ (or the folder given): bundled by
# scripts/bundle.mjs into dist/cli/ (main.js and its chunks), with the files its modules read
# beside themselves (assets, openapi.json, SQL migrations) where src/ has them. The release
# package (scripts/package.sh) is built with this too. bin/lgwan-mirror.js runs dist/ only
# while its stamp is at least as new as everything in src/ (docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
# The stamp carries the time the build started: a source edited during the build counts as newer.
started=$(date +%s.%N)
find "$out" -mindepth 1 -delete
# esbuild strips types without checking them: a type error still fails the build.
npx tsc -p tsconfig.build.json --noEmit
node scripts/bundle.mjs "$out"
(cd src && find . -type f ! -name '*.ts' -print0 | xargs -0 -I{} install -D -m 0644 {} "$out/{}")
echo "compiled from src/ by scripts/build.sh" > "$out/.build-stamp"
touch -d "@$started" "$out/.build-stamp"
