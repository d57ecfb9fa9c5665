#!/usr/bin/env bash
# kill -9 during intake, at scale: the release build, MESSAGES over 16 connections, KILLS
# kills at random moments (each followed by a restart), mailcast-loadgen retrying every
# message until it has its 250 and logging each acknowledgement (Message-ID and queue id) and
# each message whose connection broke after the end of data. Afterwards check_crash.py reads
# the spool: every acknowledged message present under its queue id, duplicates only among the
# "uncertain" ones. The CI-sized version is crates/daemon/tests/crash_intake.rs.
#
# Usage: bench/lmtp/crash.sh          (MESSAGES=50000 KILLS=6 by default; loopback only)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MESSAGES=${MESSAGES:-50000}
KILLS=${KILLS:-6}
PORT=${PORT:-18030}
REST_PORT=${REST_PORT:-18031}
WORK=${LMTP_CRASH_DIR:-$ROOT/target/lmtp-crash}/$(date -u +%Y%m%d-%H%M%S)
MAILCAST=$ROOT/target/release/mailcast
LOADGEN=$ROOT/target/release/mailcast-loadgen

cd "$ROOT"
cargo build --release -q -p mailcast -p mailcast-loadgen
. "$ROOT/bench/lmtp/site.sh"
make_site "$WORK" "$PORT" "$REST_PORT"

server_pid=""
start_server() {
    "$MAILCAST" --config "$WORK/mailcast.toml" serve 2>> "$WORK/serve.log" &
    server_pid=$!
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return
        sleep 0.05
    done
    echo "mailcast serve did not start" >&2
    exit 1
}
trap '[ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; true' EXIT

start_server
"$LOADGEN" run --target "127.0.0.1:$PORT" -c 16 -m $((MESSAGES / 16)) --attempts 1000 \
    --retry-pause-ms 20 --deadline 900 --ack-log "$WORK/acks.tsv" --json > "$WORK/run.json" &
loadgen_pid=$!
for kill in $(seq "$KILLS"); do
    # A random moment 0.3-2.3 s after the previous restart.
    ms=$((300 + RANDOM % 2000))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -0 "$loadgen_pid" 2>/dev/null || break
    kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true
    echo "kill $kill at $(date -u +%T.%N)"
    start_server
done
wait "$loadgen_pid" || true
kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

jq -c '{durable, durable_per_s, retried, broken, connects, connect_failures, codes}' "$WORK/run.json"
python3 "$ROOT/bench/lmtp/check_crash.py" "$WORK/acks.tsv" "$WORK/var/spool" "$MESSAGES"
