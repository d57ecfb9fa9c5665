#!/usr/bin/env bash
# bench/postorius/run.sh: Postorius's members page of a MEMBERS-member list, served by one
# Postorius on mailcast and by the same Postorius on GNU Mailman 3.3.10, same data, same run,
# timed in headless Chromium (bench.py). Prints a markdown table and writes
# bench/postorius/RESULTS.md. See bench/postorius/README.md. Not run by CI.
#
# Options (environment variables):
#   MEMBERS=10000     members on the list
#   REPS=15           timed loads per page per server (after warm-up)
#   WARMUP=2          untimed loads per page per server first
#   WORK=/tmp/mmbench work directory shared with bench/rest/run.sh: the Mailman venv, the
#                     loaded Mailman site ($WORK/mailman-$MEMBERS, kept and reused), the
#                     mailcast site ($WORK/postorius-mailcast-$MEMBERS, rebuilt every run)
#                     and the two Postorius state directories
#   MM_VENV=$WORK/venv  Mailman's venv (mailman==3.3.10 'sqlalchemy<2.1'), made if missing
#   RELOAD=0          1: throw away the Mailman site and load it again
#   BUILD=1           0: skip `cargo build --release -p mailcast --offline`
#   MAILCAST_BIN=...  the binary to test (default: target/release/mailcast, copied first)
#   OUT=bench/postorius/RESULTS.md
# Needs chromium, chromium-driver and .venv-postorius (scripts/tools-install.sh).
# Every server started here is stopped at exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MEMBERS=${MEMBERS:-10000}
REPS=${REPS:-15}
WARMUP=${WARMUP:-2}
WORK=${WORK:-/tmp/mmbench}
MM_VENV=${MM_VENV:-$WORK/venv}
RELOAD=${RELOAD:-0}
BUILD=${BUILD:-1}
OUT=${OUT:-$HERE/RESULTS.md}
LIST=bench@bench.example.org
LIST_ID=bench.bench.example.org
COMMAND="BUILD=$BUILD MEMBERS=$MEMBERS REPS=$REPS WARMUP=$WARMUP bench/postorius/run.sh"

log() { printf '== %s\n' "$*" >&2; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # url name [curl options]
    local url=$1 name=$2; shift 2
    for _ in $(seq 240); do
        if curl -sf -o /dev/null "$@" "$url"; then return 0; fi
        sleep 0.5
    done
    log "$name did not answer $url"; return 1
}

mkdir -p "$WORK"
MC_PORT=$(free_port)
MM_PORT=$(free_port)
PC_PORT=$(free_port)
PM_PORT=$(free_port)

# --- Postorius venv, browser -------------------------------------------------------------
"$REPO/scripts/postorius-up.sh" --install
for tool in "${CHROMIUM:-/usr/bin/chromium}" "${CHROMEDRIVER:-/usr/bin/chromedriver}"; do
    [ -x "$tool" ] || { log "$tool is missing: run scripts/tools-install.sh"; exit 1; }
done

# --- mailcast binary ---------------------------------------------------------------------
if [ -z "${MAILCAST_BIN:-}" ]; then
    if [ "$BUILD" = 1 ]; then
        log "cargo build --release -p mailcast --offline"
        (cd "$REPO" && flock /tmp/cargo.lock cargo build --release -p mailcast --offline)
    fi
    MAILCAST_BIN=$REPO/target/release/mailcast
fi
MCDIR=$WORK/postorius-mailcast-$MEMBERS
rm -rf "$MCDIR"; mkdir -p "$MCDIR"
cp "$MAILCAST_BIN" "$MCDIR/mailcast"
MC="$MCDIR/mailcast --config $MCDIR/mailcast.toml"
GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    GIT_REV="$GIT_REV + uncommitted changes"
fi

# --- Mailman venv and site (the layout and loader of bench/rest/run.sh) --------------------
if [ ! -x "$MM_VENV/bin/runner" ]; then
    log "creating $MM_VENV (mailman==3.3.10, sqlalchemy<2.1)"
    python3 -m venv "$MM_VENV"
    "$MM_VENV/bin/pip" install -q 'mailman==3.3.10' 'sqlalchemy<2.1'
fi
MM_VERSION=$("$MM_VENV/bin/python" -c 'import mailman.version as v; print(v.VERSION)')
MMDIR=$WORK/mailman-$MEMBERS
[ "$RELOAD" = 1 ] && rm -rf "$MMDIR"
mkdir -p "$MMDIR"
ADDRS=$MMDIR/addresses.txt
if [ ! -s "$ADDRS" ]; then
    python3 -c "
for i in range(1, $MEMBERS + 1): print(f'member{i:06d}@example.com')" > "$ADDRS"
fi
MMCFG=$MMDIR/mailman.cfg
cat > "$MMCFG" <<CFG
[mailman]
layout: here
site_owner: admin@example.com

[paths.here]
var_dir: $MMDIR/var

[webservice]
hostname: 127.0.0.1
port: $MM_PORT
admin_user: restadmin
admin_pass: restpass

[mta]
incoming: mailman.mta.null.NullMTA
lmtp_host: 127.0.0.1
lmtp_port: $(free_port)
smtp_host: 127.0.0.1
smtp_port: $(free_port)

[archiver.prototype]
enable: no
CFG
if [ ! -s "$MMDIR/loaded" ]; then
    log "loading $MEMBERS members into Mailman (resumable; progress on stderr)"
    t0=$(date +%s.%N)
    "$MM_VENV/bin/python" "$REPO/bench/rest/mm_load.py" "$MMCFG" "$LIST" "$ADDRS" > "$MMDIR/load.out"
    t1=$(date +%s.%N)
    { cat "$MMDIR/load.out"; printf 'whole load command %.1f s, finished %s\n' \
        "$(echo "$t1 - $t0" | bc)" "$(date -u +%FT%TZ)"; } > "$MMDIR/loaded"
fi

# --- mailcast site -------------------------------------------------------------------------
cat > "$MCDIR/mailcast.toml" <<CFG
[paths]
var_dir = "$MCDIR/var"
[database]
url = "sqlite:$MCDIR/var/mailcast.db"
[lmtp]
listen = "127.0.0.1:$(free_port)"
[smtp]
host = "127.0.0.1"
port = $(free_port)
helo_name = "bench.example.org"
[rest]
listen = "127.0.0.1:$MC_PORT"
admin_user = "restadmin"
admin_pass = "restpass"
[site]
hostname = "bench.example.org"
site_owner = "postmaster@example.org"
[mta]
postmap_command = "true"
[maildir]
enabled = false
[logging]
level = "warn"
CFG
log "loading $MEMBERS members into mailcast"
$MC domains add bench.example.org > /dev/null
$MC lists create "$LIST" > /dev/null
$MC members add "$LIST" --file "$ADDRS" > "$MCDIR/load.out"

# --- start the cores ------------------------------------------------------------------------
log "starting mailcast serve on 127.0.0.1:$MC_PORT"
setsid $MC serve > "$MCDIR/serve.log" 2>&1 &
PIDS+=($!)
log "starting Mailman's REST runner on 127.0.0.1:$MM_PORT"
setsid "$MM_VENV/bin/runner" -C "$MMCFG" -r rest > "$MMDIR/rest.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MC_PORT/3.1/system/versions" mailcast -u restadmin:restpass
wait_http "http://127.0.0.1:$MM_PORT/3.1/system/versions" Mailman -u restadmin:restpass

# --- two Postorius sites, the same code and settings, one per core --------------------------
start_postorius() { # name rest-port listen-port
    local state=$WORK/postorius-$1-$MEMBERS
    mkdir -p "$state"
    MAILCAST_REST_URL="http://127.0.0.1:$2" POSTORIUS_LISTEN="127.0.0.1:$3" \
        POSTORIUS_STATE="$state" setsid "$REPO/scripts/postorius-up.sh" > "$state/serve.log" 2>&1 &
    PIDS+=($!)
}
log "starting Postorius on 127.0.0.1:$PC_PORT (mailcast) and 127.0.0.1:$PM_PORT (Mailman)"
start_postorius on-mailcast "$MC_PORT" "$PC_PORT"
start_postorius on-mailman "$MM_PORT" "$PM_PORT"
wait_http "http://127.0.0.1:$PC_PORT/accounts/login/" "Postorius (mailcast)"
wait_http "http://127.0.0.1:$PM_PORT/accounts/login/" "Postorius (Mailman)"

# --- measure -------------------------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
PY="$REPO/.venv-postorius/bin/python"
HEADER="# Postorius members page: mailcast vs GNU Mailman $MM_VERSION

- Date: $(date -u '+%F %T UTC')
- Command: \`$COMMAND\` (from the repository root)
- Machine: nproc $(nproc), $CPU, $MEM RAM, Linux $(uname -r); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)
- mailcast: $("$MCDIR/mailcast" --version), release build of $(date -u -r "$MAILCAST_BIN" '+%F %H:%M UTC') (tree now at $GIT_REV), SQLite
- Mailman: $MM_VERSION, REST runner alone (gunicorn, 2 sync workers), SQLite
- Postorius: $("$PY" -c 'import postorius; print(postorius.__version__)') with Django $("$PY" -c 'import django; print(django.get_version())'), two instances of contrib/postorius (scripts/postorius-up.sh: Django's threaded runserver, SQLite), one for each server; $("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null | head -n 1), headless
- Data: one list \`$LIST\` with $MEMBERS regular members, the data of bench/rest; Postorius shows 25 members a page

"
log "measuring ($REPS loads per page per server)"
"$PY" "$HERE/bench.py" --mailcast "http://127.0.0.1:$PC_PORT" --mailman "http://127.0.0.1:$PM_PORT" \
    --list-id "$LIST_ID" --members "$MEMBERS" --reps "$REPS" --warmup "$WARMUP" \
    --out "$OUT" --header "$HEADER"
log "wrote $OUT"
