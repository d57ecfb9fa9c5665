#!/usr/bin/env bash
# bench/rest/run.sh: mailcast against GNU Mailman 3.3.10 on Mailman's REST API 3.1, same
# data (one list of MEMBERS members, member000001@example.com ...), same run, one Python
# client timing both servers alternately (bench.py). Prints a markdown table and writes
# bench/rest/RESULTS.md. See bench/rest/README.md.
#
# Options (environment variables):
#   MEMBERS=100000    members on the list
#   REPS=20           timed repetitions per query per server (after warm-up)
#   WARMUP=3          untimed requests per query per server first
#   WORK=/tmp/mmbench work directory: the Mailman venv, the loaded Mailman site
#                     ($WORK/mailman-$MEMBERS, kept and reused: loading takes minutes) and
#                     the mailcast site ($WORK/mailcast-$MEMBERS, rebuilt every run: ~1 s)
#   MM_VENV=$WORK/venv  Mailman's venv; created if missing with
#                     pip install mailman==3.3.10 'sqlalchemy<2.1' (2.1 breaks 3.3.10)
#   RELOAD=0          1: throw away the Mailman site and load it again
#   BUILD=1           0: skip `cargo build --release -p mailcast --offline`
#   MAILCAST_BIN=...  the binary to test (default: target/release/mailcast, copied into
#                     the work directory so a concurrent rebuild cannot change it mid-run)
#   MC_PORT, MM_PORT  REST ports on 127.0.0.1 (default: free ports)
#   OUT=bench/rest/RESULTS.md
# Both servers are stopped at exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MEMBERS=${MEMBERS:-100000}
REPS=${REPS:-20}
WARMUP=${WARMUP:-3}
WORK=${WORK:-/tmp/mmbench}
MM_VENV=${MM_VENV:-$WORK/venv}
RELOAD=${RELOAD:-0}
BUILD=${BUILD:-1}
OUT=${OUT:-$HERE/RESULTS.md}
LIST=bench@bench.example.org
LIST_ID=bench.bench.example.org
MEMBER=$(printf 'member%06d@example.com' $(( (MEMBERS + 1) / 2 )))
COMMAND="MEMBERS=$MEMBERS REPS=$REPS WARMUP=$WARMUP bench/rest/run.sh"

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

wait_http() { # url name
    for _ in $(seq 120); do
        if curl -sf -o /dev/null -u restadmin:restpass "$1"; then return 0; fi
        sleep 0.5
    done
    log "$2 did not answer $1"; return 1
}

mkdir -p "$WORK"
MC_PORT=${MC_PORT:-$(free_port)}
MM_PORT=${MM_PORT:-$(free_port)}

# --- mailcast binary ---------------------------------------------------------------
if [ -z "${MAILCAST_BIN:-}" ]; then
    if [ "$BUILD" = 1 ]; then
        log "cargo build --release -p mailcast --offline"
        (cd "$REPO" && flock /tmp/cargo.lock cargo build --release -p mailcast --offline)
    fi
    MAILCAST_BIN=$REPO/target/release/mailcast
fi
MCDIR=$WORK/mailcast-$MEMBERS
rm -rf "$MCDIR"; mkdir -p "$MCDIR"
cp "$MAILCAST_BIN" "$MCDIR/mailcast"
MC="$MCDIR/mailcast --config $MCDIR/mailcast.toml"
GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    GIT_REV="$GIT_REV + uncommitted changes"
fi

# --- Mailman venv --------------------------------------------------------------------
if [ ! -x "$MM_VENV/bin/runner" ]; then
    log "creating $MM_VENV (mailman==3.3.10, sqlalchemy<2.1)"
    python3 -m venv "$MM_VENV"
    "$MM_VENV/bin/pip" install -q 'mailman==3.3.10' 'sqlalchemy<2.1'
fi
MM_VERSION=$("$MM_VENV/bin/python" -c 'import mailman.version as v; print(v.VERSION)')
SA_VERSION=$("$MM_VENV/bin/python" -c 'import sqlalchemy; print(sqlalchemy.__version__)')
case $SA_VERSION in 2.1*) log "SQLAlchemy $SA_VERSION breaks Mailman 3.3.10's REST API; use sqlalchemy<2.1"; exit 1;; esac

# --- the addresses -------------------------------------------------------------------
MMDIR=$WORK/mailman-$MEMBERS
[ "$RELOAD" = 1 ] && rm -rf "$MMDIR"
mkdir -p "$MMDIR"
ADDRS=$MMDIR/addresses.txt
if [ ! -s "$ADDRS" ]; then
    python3 -c "import sys
for i in range(1, $MEMBERS + 1): print(f'member{i:06d}@example.com')" > "$ADDRS"
fi

# --- Mailman site: config (rewritten each run for the port), data (loaded once) --------
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
    "$MM_VENV/bin/python" "$HERE/mm_load.py" "$MMCFG" "$LIST" "$ADDRS" > "$MMDIR/load.out"
    t1=$(date +%s.%N)
    { cat "$MMDIR/load.out"; printf 'whole load command %.1f s, finished %s\n' \
        "$(echo "$t1 - $t0" | bc)" "$(date -u +%FT%TZ)"; } > "$MMDIR/loaded"
fi
MM_LOAD=$(tr '\n' ' ' < "$MMDIR/loaded")

# --- mailcast site -------------------------------------------------------------------
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
t0=$(date +%s.%N)
$MC domains add bench.example.org > /dev/null
$MC lists create "$LIST" > /dev/null
$MC members add "$LIST" --file "$ADDRS" > "$MCDIR/load.out"
t1=$(date +%s.%N)
MC_LOAD="$(cat "$MCDIR/load.out") in $(printf "%.2f" "$(echo "$t1 - $t0" | bc)") s (domains add + lists create + members add --file)"

# --- start both ----------------------------------------------------------------------
log "starting mailcast serve on 127.0.0.1:$MC_PORT"
setsid $MC serve > "$MCDIR/serve.log" 2>&1 &
PIDS+=($!)
log "starting Mailman's REST runner on 127.0.0.1:$MM_PORT"
setsid "$MM_VENV/bin/runner" -C "$MMCFG" -r rest > "$MMDIR/rest.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MC_PORT/3.1/system/versions" mailcast
wait_http "http://127.0.0.1:$MM_PORT/3.1/system/versions" Mailman
sleep 1

# --- measure -------------------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
HEADER="# REST API benchmark: mailcast vs GNU Mailman $MM_VERSION

- Date: $(date -u '+%F %T UTC')
- Command: \`$COMMAND\` (from the repository root)
- Machine: nproc $(nproc), $CPU, $MEM RAM, Linux $(uname -r); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)
- mailcast: $("$MCDIR/mailcast" --version) at $GIT_REV, release build, SQLite, default \`[rest]\` settings
- Mailman: $MM_VERSION (Python $("$MM_VENV/bin/python" -c 'import platform; print(platform.python_version())'), SQLAlchemy $SA_VERSION, SQLite), REST runner alone (\`runner -r rest\`: gunicorn, Mailman's default 2 sync workers)
- Data: one list \`$LIST\` with $MEMBERS regular members \`member000001@example.com\`..., subscribed by address; single-member queries use \`$MEMBER\`
- Load (not part of the comparison): mailcast: $MC_LOAD; Mailman (\`bench/rest/mm_load.py\`, Mailman's Python API, a commit every 2000): $MM_LOAD
- Method: \`bench/rest/bench.py\`, one Python process, one persistent http.client connection per server, $WARMUP warm-up requests per query per server, then $REPS repetitions sending each query to both servers in turn (alternating which goes first); a sample is request sent → body read (time.perf_counter). Both answers are checked to be 200 with the same total_size and addresses.

"
log "measuring ($REPS reps per query per server)"
python3 "$HERE/bench.py" --mailcast "http://127.0.0.1:$MC_PORT" --mailman "http://127.0.0.1:$MM_PORT" \
    --list-id "$LIST_ID" --members "$MEMBERS" --member "$MEMBER" \
    --reps "$REPS" --warmup "$WARMUP" --out "$OUT" --header "$HEADER"
log "wrote $OUT"
