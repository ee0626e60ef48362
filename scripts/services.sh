#!/usr/bin/env bash
# Make sure PostgreSQL and Redis run on loopback, and the database exists.
# Uses them if they are already up; otherwise installs them from Debian packages and starts them.
# Never deletes anything. Idempotent: safe to run before every start and test.
set -euo pipefail

PG_HOST=${PGHOST_SERVICES:-127.0.0.1}
PG_PORT=${PGPORT_SERVICES:-5432}
REDIS_PORT=${REDIS_PORT_SERVICES:-6379}
DB_NAME=${SOFTSWITCH_DB_NAME:-softswitch}
NEED_SIPP=${NEED_SIPP:-1}
NEED_PROMTOOL=${NEED_PROMTOOL:-1} # promtool checks the alert rules in npm test; npm start does not need it
NEED_NFT=${NEED_NFT:-$NEED_PROMTOOL} # nft -c checks `softswitch network firewall` output in npm test; npm start does not need it

log() { echo "[services] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# --- Redis -----------------------------------------------------------------
if ! port_open 127.0.0.1 "$REDIS_PORT"; then
  command -v redis-server >/dev/null || { log "installing redis-server"; apt_install redis-server; }
  log "starting redis-server on 127.0.0.1:$REDIS_PORT"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/softswitch.log
  for _ in $(seq 1 50); do port_open 127.0.0.1 "$REDIS_PORT" && break; sleep 0.1; done
fi
port_open 127.0.0.1 "$REDIS_PORT" || { log "Redis is not reachable on 127.0.0.1:$REDIS_PORT"; exit 1; }

# --- PostgreSQL ------------------------------------------------------------
if ! port_open "$PG_HOST" "$PG_PORT"; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing postgresql"
    apt_install postgresql
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  conf=/etc/postgresql/$ver/main
  # loopback trust for local development/test, as on the project's machines
  if ! grep -q '^# softswitch' "$conf/pg_hba.conf"; then
    as_root sed -i '1i # softswitch: loopback trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$conf/pg_hba.conf"
  fi
  log "starting postgresql $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 100); do port_open "$PG_HOST" "$PG_PORT" && break; sleep 0.1; done
fi
port_open "$PG_HOST" "$PG_PORT" || { log "PostgreSQL is not reachable on $PG_HOST:$PG_PORT"; exit 1; }

command -v psql >/dev/null || apt_install postgresql-client

# Test files run in parallel, each with its own database and pools; the stock 100 connections run out.
MIN_PG_CONNECTIONS=${MIN_PG_CONNECTIONS:-400}
cur=$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "show max_connections" 2>/dev/null || echo 0)
if [ "${cur:-0}" -lt "$MIN_PG_CONNECTIONS" ] && ls /etc/postgresql/*/main >/dev/null 2>&1 && [ "$PG_HOST" = 127.0.0.1 ]; then
  log "raising PostgreSQL max_connections $cur -> $MIN_PG_CONNECTIONS (restart)"
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc "alter system set max_connections = $MIN_PG_CONNECTIONS"
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main restart
  for _ in $(seq 1 100); do port_open "$PG_HOST" "$PG_PORT" && psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "select 1" >/dev/null 2>&1 && break; sleep 0.1; done
fi
if ! psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "select 1 from pg_database where datname='$DB_NAME'" | grep -q 1; then
  log "creating database $DB_NAME"
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc "create database $DB_NAME"
fi

# --- promtool (alert-rule checks and unit tests in npm test) -----------------
if [ "$NEED_PROMTOOL" = 1 ] && ! command -v promtool >/dev/null; then
  log "installing prometheus (for promtool)"
  apt_install --no-install-recommends prometheus
fi

# --- nft (syntax check of the generated firewall rules in npm test) -----------
if [ "$NEED_NFT" = 1 ] && ! command -v nft >/dev/null && [ ! -x /usr/sbin/nft ]; then
  log "installing nftables (nft -c checks the firewall rules softswitch prints)"
  apt_install --no-install-recommends nftables || log "nftables not installed: the firewall rules are checked without nft"
fi

# --- pgbouncer (npm run test:cluster runs the app through it) ----------------
if [ "${NEED_PGBOUNCER:-0}" = 1 ] && ! command -v pgbouncer >/dev/null; then
  log "installing pgbouncer"
  apt_install --no-install-recommends pgbouncer
fi

# --- sipp (SIP tests and benchmarks) ----------------------------------------
if [ "$NEED_SIPP" = 1 ] && ! command -v sipp >/dev/null; then
  log "installing sip-tester (sipp)"
  apt_install sip-tester
fi
# --- PDFs (statements, invoices) --------------------------------------------
# Tenants' legal names are Chinese: PDFs need a CJK font. poppler-utils (pdftotext) lets the tests read PDFs back.
if [ ! -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] && [ ! -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then
  log "installing fonts-wqy-zenhei (CJK font of PDF statements and invoices)"
  apt_install fonts-wqy-zenhei || log "fonts-wqy-zenhei not installed: PDF statements/invoices are refused (JSON and CSV work)"
fi
command -v pdftotext >/dev/null || apt_install poppler-utils || log "poppler-utils not installed: PDF text checks in the tests skip"
log "ok: redis 127.0.0.1:$REDIS_PORT, postgresql $PG_HOST:$PG_PORT/$DB_NAME$([ "$NEED_SIPP" = 1 ] && echo ", sipp")$([ "$NEED_PROMTOOL" = 1 ] && echo ", promtool")"
