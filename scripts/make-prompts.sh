#!/usr/bin/env bash
# Generate the default announcement prompts: DIR/<language>/<prompt>.wav (default DIR: the project's prompts/),
# 8 kHz mono 16-bit PCM as FreeSWITCH plays them. Text to speech with espeak-ng, format with sox (both Debian
# packages, installed with apt-get when missing). Reproducible: no dither, no timestamps, so the same text and
# tool versions give the same bytes (the sha256 of each file is printed). A carrier replaces these with recordings.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-prompts}

log() { echo "[prompts] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
  log "installing espeak-ng and sox"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends espeak-ng sox >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# a short 1 kHz beep in front of the warning: it is heard even over a noisy line
sox -D -n -r 8000 -c 1 -b 16 "$tmp/beep.wav" synth 0.25 sine 1000 vol 0.5
sox -D -n -r 8000 -c 1 -b 16 "$tmp/gap.wav" trim 0 0.15

# prompt <language> <name> <espeak voice> <text>
prompt() {
  local lang=$1 name=$2 voice=$3 text=$4 out="$DIR/$1/$2.wav"
  mkdir -p "$DIR/$lang"
  espeak-ng -v "$voice" -s 150 -w "$tmp/speech.wav" "$text"
  sox -D "$tmp/speech.wav" -r 8000 -c 1 -b 16 "$tmp/speech8k.wav" norm -3
  if [ "$name" = low_credit ]; then
    sox -D "$tmp/beep.wav" "$tmp/gap.wav" "$tmp/speech8k.wav" "$out"
  else
    cp "$tmp/speech8k.wav" "$out"
  fi
  echo "$(sha256sum "$out" | cut -c1-16)  $out"
}

prompt zh no_balance       cmn '您的账户余额不足，无法接通此呼叫。请充值后再拨。'
prompt zh outside_hours    cmn '现在不在允许呼叫的时间内，请在服务时间内再拨。'
prompt zh tenant_suspended cmn '您的服务已暂停，请联系您的服务提供商。'
prompt zh low_credit       cmn '余额即将用完，通话即将结束。'
prompt en no_balance       en-us 'Your account balance is insufficient for this call. Please top up and try again.'
prompt en outside_hours    en-us 'Calls are not allowed at this time. Please call again during your service hours.'
prompt en tenant_suspended en-us 'Your service is suspended. Please contact your service provider.'
prompt en low_credit       en-us 'Your credit is running out. This call will end shortly.'
log "prompts written to $DIR"
