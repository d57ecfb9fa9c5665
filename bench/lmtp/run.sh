#!/usr/bin/env bash
# LMTP intake benchmark: `mailcast serve` (release build, runners disabled, so it measures
# intake alone) fed by `mailcast-loadgen` on the same machine, at 1, 4 and 16 connections,
# 4 KB messages, several runs each; in the same run, the raw durable-write floor of the same
# disk for the spool's format (the spool crate's bench, part (a): 4 KB records appended to
# one file, one fdatasync per batch of 16), measured right before every load run; the spool's
# own group commit with as many submitters (part (b), no LMTP); the generator's ceiling
# against a do-nothing LMTP server; and the CPU time the daemon and the generator spend per
# message.
#
# Usage: bench/lmtp/run.sh            (RUNS=5 CONNS="1 4 16" SIZE=4096 by default; CEILING=0,
#        SPOOL_ALONE=0 or MAILMAN_VENV=/nowhere skip parts; MATERIALIZER_IDLE=1 is an experiment)
# Data goes under target/lmtp-bench (the project's disk, never tmpfs); the table and the
# raw JSON lines are written to bench/lmtp/results/<date>.txt.
# Every load targets 127.0.0.1 only and is bounded (message count and --deadline).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${LMTP_BENCH_DIR:-$ROOT/target/lmtp-bench}
RUNS=${RUNS:-5}
CONNS=${CONNS:-"1 4 16"}
SIZE=${SIZE:-4096}
SPOOL_ALONE=${SPOOL_ALONE:-1}
PORT=${PORT:-18024}
REST_PORT=${REST_PORT:-18001}
RESULTS=$ROOT/bench/lmtp/results
STAMP=$(date -u +%Y%m%d-%H%M)
OUT=$RESULTS/$STAMP.txt
RAW=$WORK/raw.jsonl
MAILCAST=$ROOT/target/release/mailcast
LOADGEN=$ROOT/target/release/mailcast-loadgen

# Messages per connection, so that each run lasts a few seconds.
per_connection() {
    case $1 in
        1) echo 2000 ;;
        4) echo 2000 ;;
        *) echo 1500 ;;
    esac
}

cd "$ROOT"
cargo build --release -q -p mailcast -p mailcast-loadgen
cargo bench -q -p mailcast-spool --bench commit --no-run 2>/dev/null
mkdir -p "$WORK" "$RESULTS"
: > "$RAW"

. "$ROOT/bench/lmtp/site.sh"

floor16() {
    # The spool bench's part (a), in a directory of our own (others may run it too).
    SPOOL_BENCH_DIR=$WORK/floor SPOOL_BENCH_PARTS=a \
        cargo bench -q -p mailcast-spool --bench commit 2>/dev/null |
        awk '/batch of 16/ { print $NF }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Waits (at most 30 s) until process $1 stops using CPU: the spool's materializer works on
# after the last 250, and its cost belongs to the run.
settle() {
    local last now
    last=$(cpu_ticks "$1")
    for _ in $(seq 100); do
        sleep 0.3
        now=$(cpu_ticks "$1")
        [ "$now" -le $((last + 1)) ] && return
        last=$now
    done
}

variant=""
[ "${MATERIALIZER_IDLE:-0}" = 1 ] && variant=materializer-idle

server_pid=""
sink_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
    true
}
trap cleanup EXIT

echo "load before: $(uptime)" | tee "$WORK/load.txt"

# 1. mailcast serve, one fresh installation per concurrency. Old installations are removed only
#    at the end: on this machine's ext4 (no journal), creating files right after deleting many
#    costs far more CPU (the inode allocator skips every inode deleted in the last ~30 s).
for c in $CONNS; do
    site=$WORK/site-$STAMP-$c
    make_site "$site" "$PORT" "$REST_PORT"
    "$MAILCAST" --config "$site/mailcast.toml" serve 2> "$site/serve.log" &
    server_pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.1
    done
    if [ "${MATERIALIZER_IDLE:-0}" = 1 ]; then
        # Experiment: the spool's materializer thread (files for operators, after the ack) at
        # SCHED_IDLE, so that it runs only when intake leaves a core free.
        for task in /proc/$server_pid/task/*; do
            if [ "$(cat "$task/comm")" = spool-materiali ]; then chrt --idle -p 0 "${task##*/}"; fi
        done
    fi
    m=$(per_connection "$c")
    # Warm-up: creates the spool's bucket directories (a directory fsync each, once).
    "$LOADGEN" run --target "127.0.0.1:$PORT" -c "$c" -m 300 --size "$SIZE" --json > /dev/null
    settle "$server_pid"
    for run in $(seq "$RUNS"); do
        floor=$(floor16)
        before=$(cpu_ticks "$server_pid")
        /usr/bin/time -f '%U %S' -o "$WORK/gen-time" \
            "$LOADGEN" run --target "127.0.0.1:$PORT" -c "$c" -m "$m" --size "$SIZE" --deadline 300 --json > "$WORK/run.json" || true
        settle "$server_pid"
        after=$(cpu_ticks "$server_pid")
        read -r gen_user gen_sys < "$WORK/gen-time"
        jq -c --argjson floor "$floor" --argjson ticks "$((after - before))" \
            --argjson hz "$(getconf CLK_TCK)" --argjson gu "$gen_user" --argjson gs "$gen_sys" \
            --arg variant "$variant" \
            '. + {kind: "mailcast", variant: $variant, floor16: $floor,
                  server_cpu_us_per_msg: ($ticks / $hz * 1e6 / ([.durable, 1] | max)),
                  loadgen_cpu_us_per_msg: (($gu + $gs) * 1e6 / ([.durable, 1] | max))}' \
            "$WORK/run.json" >> "$RAW"
    done
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
done

# 2. The generator's ceiling: the same loads against a do-nothing LMTP server.
if [ "${CEILING:-1}" = 1 ]; then
    "$LOADGEN" sink --lifetime 600 > "$WORK/sink.out" &
    sink_pid=$!
    for _ in $(seq 50); do grep -q '^target:' "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
    sink_target=$(sed -n 's/^target: //p' "$WORK/sink.out")
    for c in $CONNS; do
        m=$(( $(per_connection "$c") * 4 ))
        for run in 1 2 3; do
            "$LOADGEN" run --target "$sink_target" -c "$c" -m "$m" --size "$SIZE" --deadline 300 --json |
                jq -c --arg kind ceiling '. + {kind: $kind}' >> "$RAW" || true
        done
    done
    kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=""
fi

# 3. The spool alone (group commit with 1/4/16 submitter threads, no LMTP).
if [ "$SPOOL_ALONE" = 1 ]; then
    SPOOL_BENCH_DIR=$WORK/spool-alone SPOOL_BENCH_PARTS=b \
        cargo bench -q -p mailcast-spool --bench commit 2>/dev/null |
        awk '/submitter\(s\) +[0-9]/ { sub(/^ +/, ""); print }' |
        while read -r n _ rate p50 p99 _; do
            jq -nc --argjson c "$n" --argjson r "$rate" --argjson p50 "$p50" --argjson p99 "$p99" \
                '{kind: "spool", connections: $c, durable_per_s: $r, latency_ms: {p50: $p50, p99: $p99}}'
        done >> "$RAW"
fi

# 4. GNU Mailman 3.3.10's LMTP runner alone, same generator, when a venv with it exists:
#    python3 -m venv /tmp/mm-venv && /tmp/mm-venv/bin/pip install mailman==3.3.10
MAILMAN_VENV=${MAILMAN_VENV:-/tmp/mm-venv}
if [ -x "$MAILMAN_VENV/bin/runner" ]; then
    mm=$WORK/mailman-$STAMP
    mkdir -p "$mm"
    cat > "$mm/mailman.cfg" <<CFG
[mailman]
layout: bench
site_owner: postmaster@example.org
[paths.bench]
var_dir: $mm/var
[mta]
incoming: mailman.mta.null.NullMTA
lmtp_host: 127.0.0.1
lmtp_port: $((PORT + 100))
smtp_host: 127.0.0.1
smtp_port: $((PORT + 101))
[logging.root]
level: warning
CFG
    export MAILMAN_CONFIG_FILE=$mm/mailman.cfg
    mailman() { "$MAILMAN_VENV/bin/mailman" -C "$mm/mailman.cfg" --run-as-root "$@"; }
    mailman create bench@lists.example.org > /dev/null
    echo loadgen@example.net > "$mm/members.txt"
    mailman addmembers "$mm/members.txt" bench@lists.example.org > /dev/null
    mailman lists | grep -q "^bench@lists.example.org\$"
    "$MAILMAN_VENV/bin/runner" -C "$mm/mailman.cfg" -r lmtp > "$mm/lmtp.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 100))") 2>/dev/null && break
        sleep 0.1
    done
    for c in $CONNS; do
        for run in 1 2 3; do
            "$LOADGEN" run --target "127.0.0.1:$((PORT + 100))" -c "$c" -m $((600 / c + 1)) \
                --size "$SIZE" --deadline 120 --json | jq -c '. + {kind: "mailman"}' >> "$RAW" || true
        done
    done
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
fi

echo "load after: $(uptime)" | tee -a "$WORK/load.txt"
find "$WORK" -maxdepth 1 \( -name 'site-*' -o -name 'mailman-*' \) -exec rm -rf {} +
{
    echo "# LMTP intake benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, ${SIZE} B messages, $RUNS runs"
    echo "# $(git -C "$ROOT" rev-parse --short HEAD) $(git -C "$ROOT" status --porcelain | wc -l) modified files"
    sed 's/^/# /' "$WORK/load.txt"
    python3 "$ROOT/bench/lmtp/table.py" "$RAW"
    echo
    echo "# raw results (JSON lines)"
    cat "$RAW"
} > "$OUT"
sed -n '/^# raw/q;p' "$OUT"
echo "written to $OUT"
