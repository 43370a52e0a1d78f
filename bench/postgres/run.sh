#!/usr/bin/env bash
# Backlog drain benchmark for the PostgreSQL source (issue 6).
#
#   bench/postgres/run.sh [ROWS_PER_TXN] [TXNS]      (default 1000 x 200 = 200,000 rows)
#
# One run measures, on the same backlog of a 10-column table:
#   baseline  pg_recvlogical (pgoutput) draining its own slot to /dev/null
#   velocity  the release binary with the Debezium PostgreSQL connector,
#             JsonConverter schemas.enable=true, producing to a tansu broker,
#             until the offset of the last transaction is stored
#   avro      the same, with io.confluent.connect.avro.AvroConverter for key and
#             value against velocity-test-registry (the registry test double),
#             draining its own slot of the same backlog
# and prints events/s, peak RSS and bytes produced of each, the ratio
# velocity/baseline and the ratios Avro/JSON.
# The connector runs with Debezium's default max.batch.size / max.queue.size
# (2048 / 8192) unless VELOCITY_BENCH_BATCH / VELOCITY_BENCH_QUEUE say
# otherwise. VELOCITY_BENCH_BIN=path runs an already built binary (A/B runs
# of two commits); VELOCITY_BENCH_WORKER_EXTRA adds worker properties (e.g.
# producer.linger.ms=5); VELOCITY_BENCH_WRAP prefixes the worker command
# (e.g. "perf record -g --"); VELOCITY_BENCH_PERF=file records a profile.
# VELOCITY_BENCH_BASE_BIN=path also drains the same backlog with that binary
# (JsonConverter, its own slot) before this one, prints its events/s and
# peak RSS beside this binary's with the ratio, and compares the two topics
# record by record: keys and values must be the same bytes once the
# envelope's processing time (payload ts_ms/ts_us/ts_ns after "op") is set
# aside (the A/B of issue 19). The base drains first; VELOCITY_BENCH_BASE_AFTER=1
# drains it after this binary instead.
# The broker for this run is a separate in-memory tansu (the durable SQLite
# broker of scripts/services.sh accepts ~16k msg/s and would measure itself).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROWS=${1:-1000}
TXNS=${2:-200}
TOTAL=$((ROWS * TXNS))

VELOCITY_SERVICES=postgres scripts/services.sh up >/dev/null
envs=$(VELOCITY_SERVICES=postgres scripts/services.sh env)
eval "$envs"
if [ -n "${VELOCITY_BENCH_BIN:-}" ]; then   # an already built binary (e.g. of another commit, for A/B runs)
  bin=$VELOCITY_BENCH_BIN
else
  cargo build --release --quiet --bin velocity
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/velocity
fi
cargo build --release --quiet -p velocity-test-registry --bin velocity-test-registry
registry_bin=${CARGO_TARGET_DIR:-$PWD/target}/release/velocity-test-registry
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
[ -x "$tansu" ] || VELOCITY_SERVICES=kafka scripts/services.sh up >/dev/null   # installs tansu when missing
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")

work=$(mktemp -d /tmp/velocity-bench.XXXXXX)
kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work" && exec env -u CLUSTER_ID -u STORAGE_ENGINE "$tansu" broker --cluster-id bench \
   --listener-url "tcp://127.0.0.1:$kport" --advertised-listener-url "tcp://127.0.0.1:$kport" \
   --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1) &
broker=$!
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$registry_bin" "127.0.0.1:$sport" >"$work/registry.log" 2>&1 &
registry=$!
cleanup() {
  kill "$broker" "$registry" 2>/dev/null || true
  for f in "$work"/worker-*.pid; do [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; }; done; true
}
trap cleanup EXIT

export PGPASSWORD=$VELOCITY_PG_SUPERUSER_PASSWORD
conn="host=$VELOCITY_PG_HOST port=$VELOCITY_PG_PORT user=$VELOCITY_PG_SUPERUSER"
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$conn dbname=${DB:-postgres}" "$@"; }
q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('bench_recv','bench_velocity','bench_avro','bench_base')" >/dev/null
q -c "DROP DATABASE IF EXISTS velocity_bench WITH (FORCE)" -c "CREATE DATABASE velocity_bench"
DB=velocity_bench q -c "CREATE TABLE bench (id bigint PRIMARY KEY, c1 integer, c2 bigint, c3 text, c4 numeric(12,2),
   c5 timestamptz, c6 boolean, c7 double precision, c8 varchar(32), c9 date)" \
   -c "CREATE PUBLICATION bench_pub FOR TABLE bench" \
   -c "SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')" \
   -c "SELECT pg_create_logical_replication_slot('bench_velocity', 'pgoutput')" \
   -c "SELECT pg_create_logical_replication_slot('bench_avro', 'pgoutput')" \
   -c "SELECT pg_create_logical_replication_slot('bench_base', 'pgoutput')" >/dev/null
echo "writing the backlog: $TXNS transactions x $ROWS rows"
for i in $(seq 0 $((TXNS - 1))); do
  a=$((i * ROWS + 1)); b=$(((i + 1) * ROWS))
  echo "INSERT INTO bench SELECT g, g % 1000, g * 7, 'shipment ' || g, g / 100.0, '2024-03-01 08:00:00+00'::timestamptz + g * interval '1 second', g % 2 = 0, g / 3.0, 'REF-' || g, DATE '2024-01-01' + (g % 365) FROM generate_series($a, $b) g;"
done > "$work/load.sql"
head -n -1 "$work/load.sql" > "$work/load-head.sql"; tail -n 1 "$work/load.sql" > "$work/load-last.sql"
DB=velocity_bench q -f "$work/load-head.sql"
before_last=$(q -c "SELECT pg_current_wal_lsn()")
DB=velocity_bench q -f "$work/load-last.sql"
end_lsn=$(q -c "SELECT pg_current_wal_lsn()")

echo "baseline: pg_recvlogical draining slot bench_recv to /dev/null"
/usr/bin/time -f "%e %M" -o "$work/recv.time" pg_recvlogical -h "$VELOCITY_PG_HOST" -p "$VELOCITY_PG_PORT" -U "$VELOCITY_PG_SUPERUSER" \
  -d velocity_bench --slot bench_recv --start --endpos "$end_lsn" -o proto_version=1 -o publication_names=bench_pub -f /dev/null
read -r recv_s recv_kb < "$work/recv.time"

# drain NAME SLOT PREFIX EXTRA_JSON [BIN]: one worker (BIN, default this run's
# binary) drains SLOT into topic PREFIX.public.bench;
# prints "seconds peak_kb cpu_ticks broker_cpu_ticks"
drain() {
  local name=$1 slot=$2 prefix=$3 extra=$4 wbin=${5:-$bin}
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/worker-$name.properties" <<PROPS
bootstrap.servers=127.0.0.1:$kport
listeners=http://127.0.0.1:$port
offset.storage.file.filename=$work/offsets-$name.json
offset.flush.interval.ms=100
${VELOCITY_BENCH_WORKER_EXTRA:-}
PROPS
  cat > "$work/$name.json" <<JSON
{"name": "$name", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "$VELOCITY_PG_HOST", "database.port": "$VELOCITY_PG_PORT",
  "database.user": "$VELOCITY_PG_SUPERUSER", "database.password": "$VELOCITY_PG_SUPERUSER_PASSWORD",
  "database.dbname": "velocity_bench", "database.sslmode": "disable", "topic.prefix": "$prefix",
  "slot.name": "$slot", "publication.name": "bench_pub", "publication.autocreate.mode": "disabled",
  "snapshot.mode": "no_data", "max.batch.size": "${VELOCITY_BENCH_BATCH:-2048}", "max.queue.size": "${VELOCITY_BENCH_QUEUE:-8192}",
  "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1"$extra}}
JSON
  local start end hwm peak=0 done_lsn tansu_cpu0 vel_cpu tansu_cpu
  start=$(date +%s.%N)
  VELOCITY_LOG=warn ${VELOCITY_BENCH_WRAP:-} "$wbin" standalone "$work/worker-$name.properties" "$work/$name.json" >"$work/worker-$name.log" 2>&1 &
  worker=$!
  echo "$worker" >"$work/worker-$name.pid"   # the EXIT trap stops it even when this subshell fails
  if [ -n "${VELOCITY_BENCH_PERF:-}" ]; then   # optional profile: perf report -i $VELOCITY_BENCH_PERF.$name
    perf record -q -e cpu-clock -g -p "$worker" -o "$VELOCITY_BENCH_PERF.$name" >/dev/null 2>&1 &
  fi
  tansu_cpu0=$(cpu "$broker")
  while :; do
    done_lsn=$(curl -s "http://127.0.0.1:$port/connectors/$name/offsets" | python3 -c 'import json,sys
try:
  o=json.load(sys.stdin)["offsets"]; print(o[0]["offset"].get("lsn_commit",0) if o else 0)
except Exception: print(0)' 2>/dev/null || echo 0)
    hwm=$(awk '/VmHWM/ {print $2}' /proc/$worker/status 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
    # lsn_commit passes the LSN taken before the last transaction only when the
    # last transaction's last event is stored: the whole backlog is delivered
    if [ "$done_lsn" -gt "$target" ] 2>/dev/null; then break; fi
    if ! kill -0 "$worker" 2>/dev/null; then echo "velocity ($name) exited:" >&2; tail -20 "$work/worker-$name.log" >&2; exit 1; fi
    if [ "$(echo "$(date +%s.%N) - $start > 600" | bc)" = 1 ]; then echo "timeout ($name)" >&2; tail -20 "$work/worker-$name.log" >&2; exit 1; fi
    sleep 0.05
  done
  end=$(date +%s.%N)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$worker/status); [ "$hwm" -gt "$peak" ] && peak=$hwm
  vel_cpu=$(cpu "$worker"); tansu_cpu=$(( $(cpu "$broker") - tansu_cpu0 ))
  # /metrics after the drain (outside the timed part): the counters against the
  # events produced, and the lag once the walsender reports it has nothing more
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics-$name.txt" || break   # a binary without /metrics
    lag=$(awk '/^debezium_metrics_MilliSecondsBehindSource\{/ {print $2}' "$work/metrics-$name.txt")
    python3 -c "import sys; sys.exit(0 if 0 <= float('${lag:-nan}') < 1000 else 1)" 2>/dev/null && break
    sleep 0.5
  done
  echo "/metrics of $name after the drain ($TOTAL events produced):" >&2
  grep -E '^(kafka_connect_source_task_metrics_source_record_(poll|write)_total|kafka_connect_source_task_metrics_source_record_write_rate|kafka_connect_connector_task_metrics_offset_commit_avg_time_ms|debezium_metrics_(MilliSecondsBehindSource|TotalNumberOfEventsSeen|QueueRemainingCapacity|Connected))\{' "$work/metrics-$name.txt" | sed 's/^/  /' >&2 || true
  kill "$worker"; wait "$worker" 2>/dev/null || true; worker=""
  echo "$(echo "$end - $start" | bc -l) $peak $vel_cpu $tansu_cpu"
}
# bytes TOPIC: "records key+value_bytes" stored in the topic
bytes() {
  "$bin" tail --bootstrap-servers "127.0.0.1:$kport" --idle-ms 3000 --summary "$1" \
    | sed -n 's/records=\([0-9]*\) key_bytes=\([0-9]*\) value_bytes=\([0-9]*\)/\1 \2 \3/p' | awk '{print $1, $2 + $3}'
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
target=$(python3 -c "a,b='$before_last'.split('/'); print((int(a,16)<<32)+int(b,16))")
tck=$(getconf CLK_TCK)

drain_base() {
  echo "base binary $VELOCITY_BENCH_BASE_BIN (JsonConverter): draining slot bench_base into the broker"
  read -r base_s base_peak _ _ < <(drain benchbase bench_base benchbase "" "$VELOCITY_BENCH_BASE_BIN")
}
# the base drains first, or after this binary with VELOCITY_BENCH_BASE_AFTER=1
# (to see what the order alone does)
[ -n "${VELOCITY_BENCH_BASE_BIN:-}" ] && [ -z "${VELOCITY_BENCH_BASE_AFTER:-}" ] && drain_base
echo "velocity (JsonConverter): draining slot bench_velocity into the broker"
read -r vel_s peak vel_cpu tansu_cpu < <(drain bench bench_velocity bench "")
[ -n "${VELOCITY_BENCH_BASE_BIN:-}" ] && [ -n "${VELOCITY_BENCH_BASE_AFTER:-}" ] && drain_base
echo "velocity (AvroConverter): draining slot bench_avro into the broker"
avro_conv=", \"key.converter\": \"io.confluent.connect.avro.AvroConverter\", \"key.converter.schema.registry.url\": \"http://127.0.0.1:$sport\", \"value.converter\": \"io.confluent.connect.avro.AvroConverter\", \"value.converter.schema.registry.url\": \"http://127.0.0.1:$sport\""
read -r avro_s avro_peak avro_cpu avro_tansu_cpu < <(drain benchavro bench_avro benchavro "$avro_conv")
read -r json_records json_bytes < <(bytes bench.public.bench)
read -r avro_records avro_bytes < <(bytes benchavro.public.bench)
python3 - "$TOTAL" "$recv_s" "$recv_kb" "$vel_s" "$peak" "$vel_cpu" "$tansu_cpu" "$tck" "$avro_s" "$avro_peak" "$avro_cpu" "$avro_tansu_cpu" "$json_bytes" "$avro_bytes" "$json_records" "$avro_records" <<'PY'
import sys
a = sys.argv
total, recv_s, recv_kb, vel_s, peak_kb = int(a[1]), float(a[2]), int(a[3]), float(a[4]), int(a[5])
vel_cpu, tansu_cpu, tck = int(a[6]), int(a[7]), int(a[8])
avro_s, avro_kb, avro_cpu, avro_tansu = float(a[9]), int(a[10]), int(a[11]), int(a[12])
json_bytes, avro_bytes = int(a[13] or 0), int(a[14] or 0)
json_records, avro_records = int(a[15] or 0), int(a[16] or 0)
r, v, av = total / recv_s, total / vel_s, total / avro_s
print(f"rows/events          {total}")
print(f"pg_recvlogical       {recv_s:7.2f} s  {r:10.0f} rows/s    peak RSS {recv_kb/1024:6.1f} MB")
print(f"velocity -> broker   {vel_s:7.2f} s  {v:10.0f} events/s  peak RSS {peak_kb/1024:6.1f} MB  {json_bytes/1e6:7.1f} MB produced in {json_records} records (JsonConverter)")
print(f"velocity avro        {avro_s:7.2f} s  {av:10.0f} events/s  peak RSS {avro_kb/1024:6.1f} MB  {avro_bytes/1e6:7.1f} MB produced in {avro_records} records (AvroConverter)")
print(f"CPU during the drain: velocity {vel_cpu / tck:.2f} s, broker (tansu) {tansu_cpu / tck:.2f} s; avro: velocity {avro_cpu / tck:.2f} s, broker {avro_tansu / tck:.2f} s")
print(f"ratio velocity/pg_recvlogical: {v / r:.2f}")
print(f"ratio avro/json: events/s {av / v:.2f}, bytes {avro_bytes / max(json_bytes, 1):.2f}, peak RSS {avro_kb / max(peak_kb, 1):.2f}")
PY
if [ -n "${VELOCITY_BENCH_BASE_BIN:-}" ]; then
  "$bin" tail --bootstrap-servers "127.0.0.1:$kport" --idle-ms 3000 benchbase.public.bench >"$work/base.jsonl"
  "$bin" tail --bootstrap-servers "127.0.0.1:$kport" --idle-ms 3000 bench.public.bench >"$work/this.jsonl"
  python3 bench/compare_events.py --rates "$TOTAL" "$base_s" "$base_peak" "$vel_s" "$peak" \
    "$work/base.jsonl" "$work/this.jsonl"
fi
q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('bench_recv','bench_velocity','bench_avro','bench_base')" >/dev/null
