#!/usr/bin/env bash
# The test command behind `make test`: starts what the tests need, lints, checks nginx.conf,
# then runs the whole suite on SQLite and again on PostgreSQL.
#   TEST_REDIS_URL     Redis for the tests (default redis://127.0.0.1:6379/15; flushed per test)
#   TEST_DATABASE_URL  PostgreSQL for the second run (default the local `test` database)
# Extra arguments go to pytest: `bash scripts/test.sh tests/test_auth.py -x`.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
PG_URL=${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}
APT_UPDATED=0

say() { printf '\n== %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    fail "missing system packages: $*. Install them (Debian: apt-get install $*) and run again."
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq >/dev/null || fail "apt-get update failed; cannot install $*"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || fail "apt-get install $* failed"
}

redis_up() {
  "$PY" - "$TEST_REDIS_URL" <<'PYEOF' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PYEOF
}

ensure_redis() {
  redis_up && return 0
  say "Redis is not reachable at $TEST_REDIS_URL: starting one on loopback"
  command -v redis-server >/dev/null || apt_install redis-server
  local port
  port=$("$PY" -c "import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).port or 6379)" "$TEST_REDIS_URL")
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --logfile "/tmp/certfree-redis-$port.log" || fail "redis-server did not start"
  for _ in $(seq 50); do redis_up && return 0; sleep 0.1; done
  fail "redis-server started but does not answer on port $port (see /tmp/certfree-redis-$port.log)"
}

ensure_system_packages() {
  local missing=()
  # libzbar0: the real QR decoder the tests read codes with.
  ldconfig -p 2>/dev/null | grep -q libzbar.so.0 || missing+=(libzbar0)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v openssl >/dev/null || missing+=(openssl)
  # The web app's browser tests: Debian's Chromium and its driver (Selenium never downloads
  # one), and CJK fonts so the phone screenshots are legible.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  fc-list : family 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || missing+=(fonts-noto-cjk)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

check_nginx() {
  local dir
  dir=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
    -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" >/dev/null 2>&1 \
    || fail "openssl could not make a throwaway certificate for nginx -t"
  sed "s#/etc/ssl/certfree/#$dir/#g" nginx.conf >"$dir/nginx.conf"
  nginx -t -q -c "$dir/nginx.conf" -g "pid $dir/nginx.pid;" || fail "nginx -t rejected nginx.conf"
  rm -rf "$dir"
  echo "nginx.conf: syntax ok"
}

postgres_up() {
  "$PY" - "$PG_URL" <<'PYEOF' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=2).close()
PYEOF
}

say "system services and packages"
ensure_system_packages
ensure_redis
echo "Redis: ok ($TEST_REDIS_URL)"
# axe-core for the accessibility checks, pinned in tests/web/assets.py, from the npm registry.
"$PY" -m tests.web.assets >/dev/null || fail "could not install axe-core with npm (tests/web/assets.py)"

say "lint: ruff check, ruff format --check"
"$VENV/bin/ruff" check . || fail "ruff check"
"$VENV/bin/ruff" format --check . || fail "ruff format --check (run: make format)"

say "nginx -t"
check_nginx

say "tests on SQLite"
env -u TEST_DATABASE_URL "$PY" -m pytest "$@" || fail "tests on SQLite"

say "tests on PostgreSQL ($PG_URL)"
if ! postgres_up && command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL not reachable: trying to start the local cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1
  sleep 2
fi
if postgres_up; then
  TEST_DATABASE_URL="$PG_URL" "$PY" -m pytest "$@" || fail "tests on PostgreSQL"
else
  echo "PostgreSQL is NOT reachable at $PG_URL: the PostgreSQL run did not happen."
  echo "Start PostgreSQL or set TEST_DATABASE_URL, then run make test again."
  [ "${CI:-}" = "true" ] && fail "CI requires the PostgreSQL run"
fi
say "all checks passed"
