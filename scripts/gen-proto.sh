#!/usr/bin/env bash
# Generates the static protobuf code from proto/telemetry.proto (not committed: a fresh
# clone produces it in `npm run build`).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p proto/generated
npx pbjs -t static-module -w es6 --no-create --no-verify --no-delimited --no-service \
  -o proto/generated/telemetry.js proto/telemetry.proto
npx pbts -o proto/generated/telemetry.d.ts proto/generated/telemetry.js
