#!/usr/bin/env bash
# The headless browser of `npm run test:browser`: Debian's chromium, installed with apt when missing (never a
# browser download of playwright's own: `npx playwright install` cannot work on a closed network). Prints its path.
set -euo pipefail

log() { echo "[chromium] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }

find_chromium() { command -v chromium || command -v chromium-browser || true; }

bin=$(find_chromium)
if [ -z "$bin" ]; then
  log "installing Debian chromium (and CJK fonts for the portal's Chinese labels)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  bin=$(find_chromium)
fi
[ -n "$bin" ] || { log "chromium is not installed and could not be installed"; exit 1; }
# Chinese labels render as boxes without a CJK font
if ! fc-list 2>/dev/null | grep -qi 'cjk\|wqy\|droid sans fallback'; then
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq fonts-noto-cjk >/dev/null || log "no CJK font: Chinese labels may render as boxes"
fi
echo "$bin"
