#!/usr/bin/env bash
# npm run test:drachtio: the whole call suite (test/e2e/call-*.test.ts) against a real drachtio-server 0.9.4
# (../shared/drachtio-server/, see its README) instead of the embedded edge. Same files, same assertions.
# Skips with one line when the binary is absent (a user's machine has no ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=../shared/drachtio-server/drachtio-server-0.9.4
if [ ! -x "$BIN" ]; then
  echo "test:drachtio skipped: no drachtio-server binary at $BIN (only the project's machines have ../shared)"
  exit 0
fi
bash scripts/services.sh
bash scripts/drachtio-deps.sh
SIP_TEST_TARGET=drachtio exec npx vitest run test/e2e/call- "$@"
