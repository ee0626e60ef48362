#!/usr/bin/env bash
# npm run test:media: announcements on a real FreeSWITCH (test/freeswitch, vitest.media.config.ts) through the
# embedded edge, then the announcement cases again through a real drachtio-server when ../shared has one
# (SIP_TEST_TARGET=drachtio, see scripts/test-drachtio.sh). Without ../shared/freeswitch the tests skip, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
bash scripts/media-deps.sh
npx vitest run --config vitest.media.config.ts "$@"
if [ -x ../shared/freeswitch/run-freeswitch.sh ] && [ -x ../shared/drachtio-server/drachtio-server-0.9.4 ]; then
  bash scripts/drachtio-deps.sh
  SIP_TEST_TARGET=drachtio npx vitest run --config vitest.media.config.ts test/freeswitch/announcements.test.ts "$@"
fi
