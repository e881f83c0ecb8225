#!/usr/bin/env bash
# Starts (or stops) the real services Forge's tests talk to, all on 127.0.0.1:
#   PostgreSQL        127.0.0.1:5432 (the machine's cluster; checked and started if down)
#   OCI registry      127.0.0.1:5000 (Debian docker-registry, no auth)
#   OCI registry      127.0.0.1:5002 (same, htpasswd basic auth: forge / s3cret)
#   AWS (moto)        127.0.0.1:5001 (SQS + Secrets Manager emulator from PyPI)
# plus the client tools skopeo and umoci used by interoperability tests.
#
#   scripts/services.sh up     idempotent: installs what is missing, starts what is not running,
#                              writes scripts/services.env (export lines)
#   scripts/services.sh down   stops only what this script started
#   scripts/services.sh status
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${FORGE_SERVICES_DIR:-/var/cache/forge-services}"
VENV="${FORGE_VENV:-/var/cache/forge-venv}"
ENV_FILE="$HERE/services.env"
REG_PORT=5000 MOTO_PORT=5001 REG_AUTH_PORT=5002
REG_USER=forge REG_PASS=s3cret

log() { echo "services: $*" >&2; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 200); do listening "$1" && return 0; sleep 0.05; done; log "port $1 did not open"; return 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_bg() { # name, then the command
  local name=$1; shift
  nohup "$@" >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

postgres_up() {
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  install_apt postgresql
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting PostgreSQL $ver/main"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || as_root pg_ctlcluster "$ver" main start
  for _ in $(seq 1 100); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 0.1; done
  log "PostgreSQL did not become ready"; return 1
}

registry_config() { # dir port [auth]
  local dir=$1 port=$2 auth=${3:-}
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn, accesslog: {disabled: true}}"
    echo "storage:"
    echo "  filesystem: {rootdirectory: $dir/data}"
    echo "  delete: {enabled: true}"
    echo "  cache: {blobdescriptor: inmemory}"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    echo "  secret: forge-test-fixed-secret"
    if [ -n "$auth" ]; then
      echo "auth:"
      echo "  htpasswd: {realm: forge-test, path: $dir/htpasswd}"
    fi
  } >"$dir/config.yml"
}

registry_up() {
  install_apt docker-registry skopeo umoci apache2-utils
  if ! listening $REG_PORT; then
    registry_config "$STATE/registry" $REG_PORT
    start_bg registry docker-registry serve "$STATE/registry/config.yml"
    wait_port $REG_PORT
  fi
  if ! listening $REG_AUTH_PORT; then
    registry_config "$STATE/registry-auth" $REG_AUTH_PORT auth
    htpasswd -Bbc "$STATE/registry-auth/htpasswd" "$REG_USER" "$REG_PASS" 2>/dev/null
    start_bg registry-auth docker-registry serve "$STATE/registry-auth/config.yml"
    wait_port $REG_AUTH_PORT
  fi
}

moto_up() {
  listening $MOTO_PORT && return 0
  if [ ! -x "$VENV/bin/moto_server" ]; then
    log "installing moto into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'moto[server]' >/dev/null
  fi
  start_bg moto "$VENV/bin/moto_server" -H 127.0.0.1 -p $MOTO_PORT
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null && return 0
    sleep 0.05
  done
  log "moto did not become ready"; return 1
}

write_env() {
  cat >"$ENV_FILE" <<ENV
# written by scripts/services.sh up — addresses of the test services
export FORGE_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/postgres
export FORGE_TEST_REGISTRY=127.0.0.1:$REG_PORT
export FORGE_TEST_REGISTRY_AUTH=127.0.0.1:$REG_AUTH_PORT
export FORGE_TEST_REGISTRY_USER=$REG_USER
export FORGE_TEST_REGISTRY_PASSWORD=$REG_PASS
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
ENV
}

stop_one() {
  local f="$STATE/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; log "stopped $1 ($pid)"; fi
  rm -f "$f"
}

case "${1:-up}" in
  up)
    mkdir -p "$STATE"
    postgres_up
    registry_up
    moto_up
    write_env
    log "ready; source $ENV_FILE"
    ;;
  down)
    for s in registry registry-auth moto; do stop_one "$s"; done
    ;;
  status)
    for p in 5432 $REG_PORT $MOTO_PORT $REG_AUTH_PORT; do
      if listening "$p"; then echo "127.0.0.1:$p up"; else echo "127.0.0.1:$p down"; fi
    done
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
