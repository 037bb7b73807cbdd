#!/usr/bin/env bash
# Generates the static protobuf code from proto/telemetry.proto and proto/sparkplug_b.proto
# (not committed: a fresh clone produces it in `npm run build`). Each gets its own root
# (`-r`), so the two never share protobufjs' default root object.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p proto/generated
npx pbjs -t static-module -w es6 --no-create --no-verify --no-delimited --no-service \
  -o proto/generated/telemetry.js proto/telemetry.proto
npx pbts -o proto/generated/telemetry.d.ts proto/generated/telemetry.js
npx pbjs -t static-module -w es6 -r sparkplug_b --no-create --no-verify --no-delimited --no-service \
  -o proto/generated/sparkplug_b.js proto/sparkplug_b.proto
npx pbts -o proto/generated/sparkplug_b.d.ts proto/generated/sparkplug_b.js
