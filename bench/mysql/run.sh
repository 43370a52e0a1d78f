#!/usr/bin/env bash
# Backlog drain benchmark for the MySQL / MariaDB source (issue 3).
#
#   bench/mysql/run.sh [ROWS_PER_TXN] [TXNS]      (default 1000 x 200 = 200,000 rows)
#
# One run measures, on the same binlog range holding the inserts of a
# 10-column table:
#   baseline  mariadb-binlog (mysqlbinlog) reading that range from the server
#             over the replication protocol to /dev/null, once as is and once
#             with -v (rows decoded into pseudo-SQL)
#   velocity  the release binary with the Debezium MariaDB connector, resuming
#             from a stored offset at the start of the range, JsonConverter
#             schemas.enable=true, producing to a tansu broker, until the
#             offset of a marker transaction written after the range is stored
# and prints events/s, peak RSS and the ratios velocity/baseline.
# VELOCITY_BENCH_BIN=path runs an already built binary. VELOCITY_BENCH_BASE_BIN=path
# also drains the same range with that binary first, prints its events/s and
# peak RSS beside this binary's with the ratio, and compares the two topics
# record by record (bench/compare_events.py: the same key and value bytes
# once the topic prefix and the envelope's processing time are set aside);
# the base drains first, or after this binary with VELOCITY_BENCH_BASE_AFTER=1.
# The broker for this run is a separate in-memory tansu (the durable broker of
# scripts/services.sh would measure itself). The shared MariaDB of
# scripts/services.sh is used (its own database, dropped at the end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROWS=${1:-1000}
TXNS=${2:-200}
TOTAL=$((ROWS * TXNS))

VELOCITY_SERVICES=mariadb scripts/services.sh up >/dev/null
envs=$(VELOCITY_SERVICES=mariadb scripts/services.sh env)
eval "$envs"
if [ -n "${VELOCITY_BENCH_BIN:-}" ]; then   # an already built binary (e.g. of another commit, for A/B runs)
  bin=$VELOCITY_BENCH_BIN
else
  cargo build --release --quiet --bin velocity
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/velocity
fi
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
[ -x "$tansu" ] || VELOCITY_SERVICES=kafka scripts/services.sh up >/dev/null   # installs tansu when missing
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
binlog_tool=$(command -v mariadb-binlog || command -v mysqlbinlog)

# the root socket of the test server (as tests/mysql_e2e.rs finds it)
sock=${VELOCITY_MARIADB_SOCKET:-$PWD/.velocity/services/mariadb/run/mariadb.sock}
[ -S "$sock" ] || sock=$(ls /tmp/velocity-*/mariadb.sock 2>/dev/null | head -1)
[ -S "$sock" ] || { echo "MariaDB root socket not found; set VELOCITY_MARIADB_SOCKET"; exit 1; }
root() { mariadb --no-defaults -S "$sock" -uroot -N -B "$@"; }

work=$(mktemp -d /tmp/velocity-mysql-bench.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port)
(cd "$work" && exec env -u CLUSTER_ID -u STORAGE_ENGINE "$tansu" broker --cluster-id bench \
   --listener-url "tcp://127.0.0.1:$kport" --advertised-listener-url "tcp://127.0.0.1:$kport" \
   --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1) &
broker=$!
db=vbench_$$
cleanup() {
  kill "$broker" 2>/dev/null || true
  for f in "$work"/worker-*.pid; do [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; }; done
  root -e "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
}
trap cleanup EXIT

root -e "CREATE DATABASE $db; USE $db;
  CREATE TABLE bench (id BIGINT PRIMARY KEY, c1 INT, c2 BIGINT, c3 VARCHAR(64), c4 DECIMAL(12,2),
    c5 TIMESTAMP(6) NULL, c6 TINYINT(1), c7 DOUBLE, c8 VARCHAR(32), c9 DATE);
  CREATE TABLE done (id INT PRIMARY KEY);"
status() { root -e "SHOW MASTER STATUS" | awk '{print $1, $2}'; }
read -r file0 pos0 < <(status)
echo "writing the backlog: $TXNS transactions x $ROWS rows"
for i in $(seq 0 $((TXNS - 1))); do
  a=$((i * ROWS + 1)); b=$(((i + 1) * ROWS))
  echo "INSERT INTO bench SELECT seq, seq % 1000, seq * 7, CONCAT('shipment ', seq), seq / 100, \
TIMESTAMP'2024-03-01 08:00:00' + INTERVAL seq SECOND, seq % 2 = 0, seq / 3, CONCAT('REF-', seq), \
DATE'2024-01-01' + INTERVAL (seq % 365) DAY FROM seq_${a}_to_${b};"
done > "$work/load.sql"
root "$db" < "$work/load.sql"
read -r file1 pos1 < <(status)
root -e "INSERT INTO $db.done VALUES (1)"
files=$(root -e "SHOW BINARY LOGS" | awk -v a="$file0" -v b="$file1" '$1 >= a && $1 <= b {print $1}')

rb() {  # remote read of the range by the binlog tool; prints "seconds peakKB"
  /usr/bin/time -f "%e %M" -o "$work/binlog.time" "$binlog_tool" --no-defaults --read-from-remote-server \
    -h "$VELOCITY_MARIADB_HOST" -P "$VELOCITY_MARIADB_PORT" -u "$VELOCITY_MARIADB_USER" -p"$VELOCITY_MARIADB_PASSWORD" \
    --start-position="$pos0" --stop-position="$pos1" "$@" $files > /dev/null
  cat "$work/binlog.time"
}
echo "baseline: $(basename "$binlog_tool") reading $files ($pos0 .. $pos1) to /dev/null"
read -r raw_s raw_kb < <(rb)
read -r dec_s dec_kb < <(rb -v)

# drain NAME BIN: one worker of BIN drains the range into topic NAME.$db.bench,
# resuming from the start of the range: a stored offset, and the schema
# history rebuilt from the current definitions (snapshot.mode=recovery);
# prints "seconds peak_kb"
drain() {
  local name=$1 wbin=$2 port start end peak=0 hwm past
  port=$(free_port)
  cat > "$work/worker-$name.properties" <<PROPS
bootstrap.servers=127.0.0.1:$kport
listeners=http://127.0.0.1:$port
offset.storage.file.filename=$work/offsets-$name.json
offset.flush.interval.ms=100
PROPS
  python3 - "$work/offsets-$name.json" "$file0" "$pos0" "$name" <<'PY'
import json, sys
path, f, p, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
key = json.dumps([name, {"server": name}], separators=(",", ":"))
json.dump({key: {"ts_sec": 0, "file": f, "pos": p, "row": 0, "server_id": 1, "event": 0}}, open(path, "w"))
PY
  cat > "$work/$name.json" <<JSON
{"name": "$name", "config": {
  "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
  "database.hostname": "$VELOCITY_MARIADB_HOST", "database.port": "$VELOCITY_MARIADB_PORT",
  "database.user": "$VELOCITY_MARIADB_USER", "database.password": "$VELOCITY_MARIADB_PASSWORD",
  "database.ssl.mode": "disabled",
  "database.server.id": "$((200000 + ($$ + ${#name}) % 100000))", "topic.prefix": "$name", "database.include.list": "$db",
  "snapshot.mode": "recovery",
  "schema.history.internal.kafka.topic": "$name.history", "schema.history.internal.kafka.bootstrap.servers": "127.0.0.1:$kport",
  "max.batch.size": "${VELOCITY_BENCH_BATCH:-8192}", "max.queue.size": "${VELOCITY_BENCH_QUEUE:-32768}",
  "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1"}}
JSON
  start=$(date +%s.%N)
  VELOCITY_LOG=warn "$wbin" standalone "$work/worker-$name.properties" "$work/$name.json" >"$work/worker-$name.log" 2>&1 &
  worker=$!
  echo "$worker" >"$work/worker-$name.pid"   # the EXIT trap stops it even when this subshell fails
  while :; do
    # the marker transaction starts at or after file1:pos1; its offset is stored
    # only once every bench row before it is delivered
    past=$(curl -s "http://127.0.0.1:$port/connectors/$name/offsets" | python3 -c '
import json, sys
f1, p1 = sys.argv[1], int(sys.argv[2])
try:
    o = json.load(sys.stdin)["offsets"][0]["offset"]
    ix = lambda f: int(f.rsplit(".", 1)[1])
    print(1 if (ix(o["file"]), o["pos"], o.get("event", 0)) >= (ix(f1), p1, 1) else 0)
except Exception:
    print(0)' "$file1" "$pos1" 2>/dev/null || echo 0)
    hwm=$(awk '/VmHWM/ {print $2}' /proc/$worker/status 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
    [ "$past" = 1 ] && break
    if ! kill -0 "$worker" 2>/dev/null; then echo "velocity ($name) exited:" >&2; tail -20 "$work/worker-$name.log" >&2; exit 1; fi
    if [ "$(echo "$(date +%s.%N) - $start > 600" | bc)" = 1 ]; then echo "timeout ($name)" >&2; tail -20 "$work/worker-$name.log" >&2; exit 1; fi
    sleep 0.05
  done
  end=$(date +%s.%N)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$worker/status); [ "$hwm" -gt "$peak" ] && peak=$hwm
  kill "$worker"; wait "$worker" 2>/dev/null || true; worker=""
  echo "$(echo "$end - $start" | bc -l) $peak"
}
drain_base() {
  echo "base binary $VELOCITY_BENCH_BASE_BIN: draining the range into the broker"
  read -r base_s base_peak < <(drain benchbase "$VELOCITY_BENCH_BASE_BIN")
}
# the base drains first, or after this binary with VELOCITY_BENCH_BASE_AFTER=1
[ -n "${VELOCITY_BENCH_BASE_BIN:-}" ] && [ -z "${VELOCITY_BENCH_BASE_AFTER:-}" ] && drain_base
echo "velocity: draining the range into the broker"
read -r vel_s peak < <(drain bench "$bin")
[ -n "${VELOCITY_BENCH_BASE_BIN:-}" ] && [ -n "${VELOCITY_BENCH_BASE_AFTER:-}" ] && drain_base
tool=$(basename "$binlog_tool")
python3 - "$TOTAL" "$raw_s" "$raw_kb" "$dec_s" "$dec_kb" "$vel_s" "$peak" "$tool" <<'PY'
import sys
total = int(sys.argv[1])
raw_s, raw_kb, dec_s, dec_kb = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
vel_s, peak_kb, tool = float(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
raw_s, dec_s = max(raw_s, 0.01), max(dec_s, 0.01)
r, d, v = total / raw_s, total / dec_s, total / vel_s
print(f"rows/events            {total}")
print(f"{tool:<14} (raw)  {raw_s:7.2f} s  {r:10.0f} rows/s    peak RSS {raw_kb/1024:6.1f} MB")
print(f"{tool:<14} (-v)   {dec_s:7.2f} s  {d:10.0f} rows/s    peak RSS {dec_kb/1024:6.1f} MB")
print(f"velocity -> broker    {vel_s:7.2f} s  {v:10.0f} events/s  peak RSS {peak_kb/1024:6.1f} MB")
print(f"ratio velocity/{tool} raw: {v / r:.2f}   velocity/{tool} -v: {v / d:.2f}")
PY
if [ -n "${VELOCITY_BENCH_BASE_BIN:-}" ]; then
  "$bin" tail --bootstrap-servers "127.0.0.1:$kport" --idle-ms 3000 "benchbase.$db.bench" >"$work/base.jsonl"
  "$bin" tail --bootstrap-servers "127.0.0.1:$kport" --idle-ms 3000 "bench.$db.bench" >"$work/this.jsonl"
  python3 bench/compare_events.py --rates "$TOTAL" "$base_s" "$base_peak" "$vel_s" "$peak" \
    "$work/base.jsonl" "$work/this.jsonl"
fi
