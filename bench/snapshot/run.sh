#!/usr/bin/env bash
# Initial snapshot benchmark for the PostgreSQL source (issue 16).
#
#   bench/snapshot/run.sh [ROWS]      (default 2,000,000 rows; e.g. 200000 for a short run)
#
# One run measures, on the same data (the 10-column table of
# bench/postgres/run.sh), the initial snapshot (snapshot.mode=initial,
# JsonConverter schemas.enable=true) of:
#   velocity-1     the release binary, one table of ROWS rows, one thread
#   velocity-4tab  4 tables of ROWS/4 rows, snapshot.max.threads=4 with
#                  legacy.snapshot.max.threads=true (one thread per table)
#   velocity-chunk the one table, snapshot.max.threads=4 (key ranges of the
#                  table read in parallel, Debezium 3.5+'s chunked mode)
#   debezium       the real Debezium 3.6.3 (embedded engine of
#                  ../shared/debezium-reference, JsonConverter), the one
#                  table, default snapshot.max.threads=1 — the baseline
# and prints events/s and peak RSS of each, and the ratios to Debezium.
# Velocity produces into a separate in-memory tansu broker (as
# bench/postgres/run.sh; a fresh one per run) and is done when the stored
# offset is the snapshot's last record (every record acknowledged by the
# broker; the record count is the worker's /metrics write total);
# Debezium's engine converts each record to JSON and writes it to
# /dev/null (no broker: a head start for the baseline), and is done at its
# last event. Both are timed from the process start (JVM start included).
# VELOCITY_BENCH_BIN=path runs an already built binary; BENCH_ONLY=a,b
# picks some of velocity-1,velocity-4tab,velocity-chunk,debezium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROWS=${1:-2000000}
QUARTER=$((ROWS / 4))
ONLY=${BENCH_ONLY:-velocity-1,velocity-4tab,velocity-chunk,debezium}
want() { [[ ",$ONLY," == *",$1,"* ]]; }

VELOCITY_SERVICES=postgres scripts/services.sh up >/dev/null
envs=$(VELOCITY_SERVICES=postgres scripts/services.sh env)
eval "$envs"
if [ -n "${VELOCITY_BENCH_BIN:-}" ]; then
  bin=$VELOCITY_BENCH_BIN
else
  cargo build --release --quiet --bin velocity
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/velocity
fi
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
[ -x "$tansu" ] || VELOCITY_SERVICES=kafka scripts/services.sh up >/dev/null   # installs tansu when missing
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")

work=$(mktemp -d /tmp/velocity-snapbench.XXXXXX)
kport=""
broker=""
# a fresh in-memory broker per Velocity run (tansu's memory engine keeps
# every record; four runs of 2M records would not fit)
start_broker() {
  kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  (cd "$work" && exec env -u CLUSTER_ID -u STORAGE_ENGINE "$tansu" broker --cluster-id snapbench \
     --listener-url "tcp://127.0.0.1:$kport" --advertised-listener-url "tcp://127.0.0.1:$kport" \
     --storage-engine memory://tansu/ >>"$work/tansu.log" 2>&1) &
  broker=$!
  echo "$broker" >"$work/broker.pid"
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $kport), 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the broker did not start:" >&2; tail -5 "$work/tansu.log" >&2; return 1
}
stop_broker() { kill "$broker" 2>/dev/null || true; wait "$broker" 2>/dev/null || true; }
cleanup() {
  for f in "$work"/*.pid; do [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; }; done; true
}
trap cleanup EXIT

export PGPASSWORD=$VELOCITY_PG_SUPERUSER_PASSWORD
conn="host=$VELOCITY_PG_HOST port=$VELOCITY_PG_PORT user=$VELOCITY_PG_SUPERUSER"
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$conn dbname=${DB:-postgres}" "$@"; }
slots="'snap_v1','snap_v4','snap_vc','snap_dbz'"
q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ($slots)" >/dev/null
q -c "DROP DATABASE IF EXISTS velocity_snapbench WITH (FORCE)" -c "CREATE DATABASE velocity_snapbench"
cols="id bigint PRIMARY KEY, c1 integer, c2 bigint, c3 text, c4 numeric(12,2), c5 timestamptz, c6 boolean, c7 double precision, c8 varchar(32), c9 date"
fill() {  # fill TABLE FROM TO
  echo "INSERT INTO $1 SELECT g, g % 1000, g * 7, 'shipment ' || g, g / 100.0, '2024-03-01 08:00:00+00'::timestamptz + g * interval '1 second', g % 2 = 0, g / 3.0, 'REF-' || g, DATE '2024-01-01' + (g % 365) FROM generate_series($2, $3) g;"
}
echo "loading: single.bench ($ROWS rows) and four.q1..q4 ($QUARTER rows each)"
{
  echo "CREATE SCHEMA single; CREATE SCHEMA four; CREATE TABLE single.bench ($cols);"
  fill single.bench 1 "$ROWS"
  for i in 1 2 3 4; do
    echo "CREATE TABLE four.q$i ($cols);"
    fill "four.q$i" $(( (i - 1) * QUARTER + 1 )) $(( i * QUARTER ))
  done
  echo "VACUUM ANALYZE;"
} | DB=velocity_snapbench q >/dev/null
q -c "CHECKPOINT" >/dev/null
echo "machine load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min), $(nproc) cores"

cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# velocity NAME SLOT TABLES(include list) EXTRA_JSON: one worker snapshots
# the tables into a fresh broker; prints "seconds peak_kb records" (the
# records the worker's /metrics counts as written to the broker)
velocity() {
  local name=$1 slot=$2 include=$3 extra=$4 port start end peak=0 hwm worker done_flag written
  start_broker >&2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/worker-$name.properties" <<PROPS
bootstrap.servers=127.0.0.1:$kport
listeners=http://127.0.0.1:$port
offset.storage.file.filename=$work/offsets-$name.json
offset.flush.interval.ms=100
PROPS
  cat > "$work/$name.json" <<JSON
{"name": "$name", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "$VELOCITY_PG_HOST", "database.port": "$VELOCITY_PG_PORT",
  "database.user": "$VELOCITY_PG_SUPERUSER", "database.password": "$VELOCITY_PG_SUPERUSER_PASSWORD",
  "database.dbname": "velocity_snapbench", "database.sslmode": "disable", "topic.prefix": "$name",
  "slot.name": "$slot", "publication.name": "${slot}_pub", "publication.autocreate.mode": "filtered",
  "table.include.list": "$include", "snapshot.mode": "initial",
  "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1"$extra}}
JSON
  start=$(date +%s.%N)
  VELOCITY_LOG=warn "$bin" standalone "$work/worker-$name.properties" "$work/$name.json" >"$work/worker-$name.log" 2>&1 &
  worker=$!
  echo "$worker" >"$work/worker-$name.pid"
  while :; do
    # done once the stored offset is the snapshot's last record's
    done_flag=$(curl -s "http://127.0.0.1:$port/connectors/$name/offsets" | python3 -c 'import json,sys
try:
  o=json.load(sys.stdin)["offsets"]; print(1 if o and o[0]["offset"].get("last_snapshot_record") is True else 0)
except Exception: print(0)' 2>/dev/null || echo 0)
    hwm=$(awk '/VmHWM/ {print $2}' /proc/$worker/status 2>/dev/null || echo 0)
    [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
    [ "$done_flag" = 1 ] && break
    if ! kill -0 "$worker" 2>/dev/null; then echo "velocity ($name) exited:" >&2; tail -20 "$work/worker-$name.log" >&2; exit 1; fi
    if [ "$(echo "$(date +%s.%N) - $start > 1800" | bc)" = 1 ]; then echo "timeout ($name)" >&2; tail -20 "$work/worker-$name.log" >&2; exit 1; fi
    sleep 0.05
  done
  end=$(date +%s.%N)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$worker/status); [ "$hwm" -gt "$peak" ] && peak=$hwm
  written=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^kafka_connect_source_task_metrics_source_record_write_total\{/ {n += $2} END {printf "%d", n}')
  kill "$worker"; wait "$worker" 2>/dev/null || true
  stop_broker
  echo "$(echo "$end - $start" | bc -l) $peak $written"
}
results=()
if want velocity-1; then
  echo "velocity-1: single.bench, 1 thread"
  read -r s kb n < <(velocity v1 snap_v1 'single\\.bench' ''); [ -n "${kb:-}" ] || exit 1
  results+=("velocity-1 $s $kb $n $ROWS")
fi
if want velocity-4tab; then
  echo "velocity-4tab: four.q1..q4, snapshot.max.threads=4, one thread per table"
  read -r s kb n < <(velocity v4 snap_v4 'four\\.q.*' ', "snapshot.max.threads": "4", "legacy.snapshot.max.threads": "true"'); [ -n "${kb:-}" ] || exit 1
  results+=("velocity-4tab $s $kb $n $((QUARTER * 4))")
fi
if want velocity-chunk; then
  echo "velocity-chunk: single.bench, snapshot.max.threads=4 (key ranges)"
  read -r s kb n < <(velocity vc snap_vc 'single\\.bench' ', "snapshot.max.threads": "4"'); [ -n "${kb:-}" ] || exit 1
  results+=("velocity-chunk $s $kb $n $ROWS")
fi
if want debezium; then
  echo "debezium 3.6.3 (embedded engine, JsonConverter): single.bench, 1 thread"
  cat > "$work/dbz.properties" <<PROPS
name=snapdbz
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.FileOffsetBackingStore
offset.storage.file.filename=$work/dbz-offsets.dat
offset.flush.interval.ms=1000
database.hostname=$VELOCITY_PG_HOST
database.port=$VELOCITY_PG_PORT
database.user=$VELOCITY_PG_SUPERUSER
database.password=$VELOCITY_PG_SUPERUSER_PASSWORD
database.dbname=velocity_snapbench
topic.prefix=dbz
plugin.name=pgoutput
slot.name=snap_dbz
publication.name=snap_dbz_pub
publication.autocreate.mode=filtered
table.include.list=single\\.bench
snapshot.mode=initial
key.converter.schemas.enable=true
value.converter.schemas.enable=true
PROPS
  /usr/bin/time -f "%e %M" -o "$work/dbz.time" \
    ../shared/debezium-reference/run.sh "$work/dbz.properties" /dev/null "$ROWS" 10000 2>"$work/dbz.log" \
    || { tail -20 "$work/dbz.log" >&2; exit 1; }
  line=$(grep '^events=' "$work/dbz.log" | tail -1)
  n=$(sed -n 's/.*events=\([0-9]*\).*/\1/p' <<<"$line")
  f2l=$(sed -n 's/.*first_to_last_s=\([0-9.]*\).*/\1/p' <<<"$line")
  s2f=$(sed -n 's/.*startup_to_first_s=\([0-9.-]*\).*/\1/p' <<<"$line")
  read -r _ kb < "$work/dbz.time"
  results+=("debezium $(echo "$s2f + $f2l" | bc -l) $kb $n $ROWS")
fi
echo "machine load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "${results[@]}" <<'PY'
import sys
rows = [r.split() for r in sys.argv[1:]]
base = next((float(r[4]) / float(r[1]) for r in rows if r[0] == "debezium"), None)
base_kb = next((int(r[2]) for r in rows if r[0] == "debezium"), None)
for name, s, kb, got, total in rows:
    s, kb, got, total = float(s), int(kb), int(got), int(total)
    rate = total / s
    ratio = f"  x{rate / base:5.2f} Debezium's events/s, x{kb / base_kb:4.2f} its RSS" if base and name != "debezium" else ""
    ok = "" if got == total else f"  (MISMATCH: {got} records for {total} rows)"
    print(f"{name:15s} {total:9d} rows  {s:7.2f} s  {rate:9.0f} events/s  peak RSS {kb/1024:7.1f} MB{ratio}{ok}")
PY
q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ($slots) AND NOT active" >/dev/null
echo "work directory (logs): $work"
