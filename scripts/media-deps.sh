#!/usr/bin/env bash
# What `npm run test:media` needs besides services.sh: the runtime libraries of the shared test FreeSWITCH
# (../shared/freeswitch, see its README) and espeak-ng + sox for the default prompts. Installs only what is
# missing, with apt-get. Without ../shared/freeswitch it does nothing (the media tests skip, saying why).
set -euo pipefail
cd "$(dirname "$0")/.."
FS=../shared/freeswitch
[ -x "$FS/run-freeswitch.sh" ] || exit 0

log() { echo "[media-deps] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }
pkgs=()
# not `ldd | grep -q`: under pipefail grep -q's early exit makes ldd die of SIGPIPE and the test read false
missing() { LD_LIBRARY_PATH="$FS/lib" ldd "$FS/bin/freeswitch" "$FS"/mod/*.so 2>/dev/null | grep 'not found' | sort -u || true; }
if [ -n "$(missing)" ]; then
  # the list of the FreeSWITCH README (Debian 12 runtime packages of that build)
  pkgs+=(libssl3 libcurl4 libedit2 libpcre3 libspeex1 libspeexdsp1 libsqlite3-0 libuuid1 zlib1g libsndfile1 libtiff6 libjpeg62-turbo)
fi
command -v espeak-ng >/dev/null || pkgs+=(espeak-ng)
command -v sox >/dev/null || pkgs+=(sox)
if [ ${#pkgs[@]} -gt 0 ]; then
  log "installing ${pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
if [ -n "$(missing)" ]; then
  missing >&2
  log "FreeSWITCH still misses the libraries above"; exit 1
fi
