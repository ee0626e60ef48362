#!/usr/bin/env bash
# Make the real drachtio-server test binary (../shared/drachtio-server/, see its README) runnable: install the
# Debian runtime packages it links against when `ldd` lists a missing library. Idempotent; never removes anything.
# Exit 0 and say so when the binary is absent (a user's machine has no ../shared): the callers then skip.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=../shared/drachtio-server/drachtio-server-0.9.4
# the packages its README lists for Debian 12
PKGS="libboost-thread1.74.0 libboost-log1.74.0 libboost-filesystem1.74.0 libgoogle-perftools4 libcurl4 libssl3 zlib1g"

log() { echo "[drachtio-deps] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }

if [ ! -x "$BIN" ]; then
  log "no drachtio-server binary at $BIN: nothing to install"
  exit 0
fi
missing=$(ldd "$BIN" | grep 'not found' || true)
if [ -n "$missing" ]; then
  log "missing libraries:"$'\n'"$missing"
  log "installing $PKGS"
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
  still=$(ldd "$BIN" | grep 'not found' || true)
  if [ -n "$still" ]; then log "still missing after install:"$'\n'"$still"; exit 1; fi
fi
log "ok: $("$BIN" --version 2>/dev/null | head -n1)"
