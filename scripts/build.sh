#!/usr/bin/env bash
# npm run build: the program compiled to JavaScript in dist/ (or the folder given), with the
# files its modules read beside themselves (assets, openapi.json, SQL migrations). The release
# package (scripts/package.sh) is built with this too. bin/lgwan-mirror.js runs dist/ only
# while its stamp is at least as new as everything in src/ (docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
# The stamp carries the time the build started: a source edited during the build counts as newer.
started=$(date +%s.%N)
find "$out" -mindepth 1 -delete
npx tsc -p tsconfig.build.json --outDir "$out"
(cd src && find . -type f ! -name '*.ts' -print0 | xargs -0 -I{} install -D -m 0644 {} "$out/{}")
echo "compiled from src/ by scripts/build.sh" > "$out/.build-stamp"
touch -d "@$started" "$out/.build-stamp"
