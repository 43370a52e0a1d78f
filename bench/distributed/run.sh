#!/usr/bin/env bash
# Distributed mode benchmark (issue 12), one run, one machine:
#
#   bench/distributed/run.sh [ROWS_PER_TXN] [TXNS] [FAILOVERS]
#                                   (default 1000 x 100 = 100,000 rows, 3 failovers)
#
# 1. PostgreSQL backlog drain through ONE worker, same backlog, same broker:
#      baseline     velocity standalone   (offsets in a file)
#      distributed  velocity distributed  (offsets, configs, statuses in topics)
#    from the first stored offset until the offset of the last transaction
#    is stored (so the connector's start, and distributed mode's two
#    rebalances for a new connector, are not timed); prints events/s of each
#    and the ratio.
# 2. Failover: three distributed workers (session.timeout.ms=6000,
#    heartbeat.interval.ms=1000, scheduled.rebalance.max.delay.ms=0); a
#    FileStreamSource's task owner is SIGKILLed, FAILOVERS times; prints the
#    seconds from the kill until another worker reports the task RUNNING,
#    and whether the killed worker led the group.
# The drain runs against a separate in-memory tansu (as in
# bench/postgres/run.sh: the SQLite broker would measure itself); the
# failover against the SQLite tansu of scripts/services.sh. On tansu 0.6 a
# killed follower's work may never move (the survivors' rejoin is answered
# with the old generation: README, Known differences); such a round prints
# "did not move" and the bench goes on.
# VELOCITY_BENCH_BIN=path runs an already built binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROWS=${1:-1000}
TXNS=${2:-100}
FAILOVERS=${3:-3}
TOTAL=$((ROWS * TXNS))

VELOCITY_SERVICES=postgres,kafka scripts/services.sh up >/dev/null
envs=$(VELOCITY_SERVICES=postgres,kafka scripts/services.sh env)
eval "$envs"
if [ -n "${VELOCITY_BENCH_BIN:-}" ]; then
  bin=$VELOCITY_BENCH_BIN
else
  cargo build --release --quiet --bin velocity
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/velocity
fi
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
[ -x "$tansu" ] || VELOCITY_SERVICES=kafka scripts/services.sh up >/dev/null
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d /tmp/velocity-bench-dist.XXXXXX)
kport=$(freeport)
(cd "$work" && exec env -u CLUSTER_ID -u STORAGE_ENGINE "$tansu" broker --cluster-id bench \
   --listener-url "tcp://127.0.0.1:$kport" --advertised-listener-url "tcp://127.0.0.1:$kport" \
   --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1) &
broker=$!
pids=()
cleanup() { kill "$broker" "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

export PGPASSWORD=$VELOCITY_PG_SUPERUSER_PASSWORD
conn="host=$VELOCITY_PG_HOST port=$VELOCITY_PG_PORT user=$VELOCITY_PG_SUPERUSER"
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$conn dbname=${DB:-postgres}" "$@"; }
q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('bench_sa','bench_dist')" >/dev/null
q -c "DROP DATABASE IF EXISTS velocity_bench_dist WITH (FORCE)" -c "CREATE DATABASE velocity_bench_dist"
DB=velocity_bench_dist q -c "CREATE TABLE bench (id bigint PRIMARY KEY, c1 integer, c2 bigint, c3 text, c4 numeric(12,2),
   c5 timestamptz, c6 boolean, c7 double precision, c8 varchar(32), c9 date)" \
   -c "CREATE PUBLICATION bench_pub FOR TABLE bench" \
   -c "SELECT pg_create_logical_replication_slot('bench_sa', 'pgoutput')" \
   -c "SELECT pg_create_logical_replication_slot('bench_dist', 'pgoutput')" >/dev/null
echo "writing the backlog: $TXNS transactions x $ROWS rows"
for i in $(seq 0 $((TXNS - 1))); do
  a=$((i * ROWS + 1)); b=$(((i + 1) * ROWS))
  echo "INSERT INTO bench SELECT g, g % 1000, g * 7, 'shipment ' || g, g / 100.0, '2024-03-01 08:00:00+00'::timestamptz + g * interval '1 second', g % 2 = 0, g / 3.0, 'REF-' || g, DATE '2024-01-01' + (g % 365) FROM generate_series($a, $b) g;"
done > "$work/load.sql"
head -n -1 "$work/load.sql" > "$work/load-head.sql"; tail -n 1 "$work/load.sql" > "$work/load-last.sql"
DB=velocity_bench_dist q -f "$work/load-head.sql"
before_last=$(q -c "SELECT pg_current_wal_lsn()")
DB=velocity_bench_dist q -f "$work/load-last.sql"
target=$(python3 -c "a,b='$before_last'.split('/'); print((int(a,16)<<32)+int(b,16))")

wait_health() { for _ in $(seq 1 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/health")" = 200 ] && return 0; sleep 0.1; done; echo "worker on $1 did not start" >&2; return 1; }
dist_props() {  # dist_props GROUP PORT [BOOTSTRAP]
  cat <<PROPS
bootstrap.servers=${3:-127.0.0.1:$kport}
listeners=http://127.0.0.1:$2
offset.flush.interval.ms=100
group.id=$1
config.storage.topic=$1-configs
offset.storage.topic=$1-offsets
status.storage.topic=$1-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
session.timeout.ms=6000
heartbeat.interval.ms=1000
scheduled.rebalance.max.delay.ms=0
velocity.file.connectors.enable=true
PROPS
}

# drain MODE SLOT: one worker drains SLOT; prints seconds from POST to stored offset
drain() {
  local mode=$1 slot=$2 port start end done_lsn
  port=$(freeport)
  if [ "$mode" = standalone ]; then
    printf 'bootstrap.servers=127.0.0.1:%s\nlisteners=http://127.0.0.1:%s\noffset.storage.file.filename=%s\noffset.flush.interval.ms=100\n' \
      "$kport" "$port" "$work/offsets-sa.json" > "$work/$mode.properties"
  else
    dist_props "bench-drain-$RANDOM" "$port" > "$work/$mode.properties"
  fi
  VELOCITY_LOG=warn "$bin" "$mode" "$work/$mode.properties" >"$work/$mode.log" 2>&1 &
  local worker=$!
  pids+=("$worker")
  wait_health "$port"
  local body
  body=$(cat <<JSON
{"name": "$slot", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "$VELOCITY_PG_HOST", "database.port": "$VELOCITY_PG_PORT",
  "database.user": "$VELOCITY_PG_SUPERUSER", "database.password": "$VELOCITY_PG_SUPERUSER_PASSWORD",
  "database.dbname": "velocity_bench_dist", "topic.prefix": "$slot",
  "slot.name": "$slot", "publication.name": "bench_pub", "publication.autocreate.mode": "disabled",
  "snapshot.mode": "no_data",
  "topic.creation.default.partitions": "1", "topic.creation.default.replication.factor": "1"}}
JSON
)
  curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/connectors" >/dev/null
  start=""
  local t_post
  t_post=$(date +%s.%N)
  while :; do
    done_lsn=$(curl -s "http://127.0.0.1:$port/connectors/$slot/offsets" | python3 -c 'import json,sys
try:
  o=json.load(sys.stdin)["offsets"]; print(o[0]["offset"].get("lsn_commit",0) if o else 0)
except Exception: print(0)' 2>/dev/null || echo 0)
    if [ -z "$start" ] && [ "$done_lsn" -gt 0 ] 2>/dev/null; then start=$(date +%s.%N); fi
    if [ "$done_lsn" -gt "$target" ] 2>/dev/null; then break; fi
    if ! kill -0 "$worker" 2>/dev/null; then echo "velocity $mode exited:" >&2; tail -20 "$work/$mode.log" >&2; exit 1; fi
    if [ "$(echo "$(date +%s.%N) - $t_post > 600" | bc)" = 1 ]; then echo "timeout ($mode)" >&2; tail -20 "$work/$mode.log" >&2; exit 1; fi
    sleep 0.05
  done
  end=$(date +%s.%N)
  kill "$worker"; wait "$worker" 2>/dev/null || true
  echo "$end - $start" | bc -l
}

echo "baseline: velocity standalone (offsets in a file) draining slot bench_sa"
sa_s=$(drain standalone bench_sa)
echo "velocity distributed, one worker (offsets in a topic) draining slot bench_dist"
dist_s=$(drain distributed bench_dist)

python3 - "$TOTAL" "$sa_s" "$dist_s" <<'PY'
import sys
total, sa, dist = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"rows/events                  {total}")
print(f"standalone (file offsets)    {sa:7.2f} s  {total / sa:10.0f} events/s")
print(f"distributed (topic offsets)  {dist:7.2f} s  {total / dist:10.0f} events/s")
print(f"ratio distributed/standalone: {sa / dist:.2f}")
PY

echo "failover: three distributed workers, SIGKILL of a task's owner, $FAILOVERS times"
group="bench-failover-$RANDOM"
ports=()
wpids=()
for i in 0 1 2; do
  p=$(freeport); ports+=("$p")
  dist_props "$group" "$p" "$VELOCITY_KAFKA_BOOTSTRAP" > "$work/fo-$i.properties"
  VELOCITY_LOG=info "$bin" distributed "$work/fo-$i.properties" >"$work/fo-$i.log" 2>&1 &
  wpids+=($!); pids+=($!)
done
for p in "${ports[@]}"; do wait_health "$p"; done
echo line > "$work/fo.txt"
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:${ports[0]}/connectors" \
  -d "{\"name\":\"fo\",\"config\":{\"connector.class\":\"FileStreamSource\",\"file\":\"$work/fo.txt\",\"topic\":\"fo\",\"topic.creation.default.partitions\":\"1\",\"topic.creation.default.replication.factor\":\"1\"}}" >/dev/null
owner_of() {  # owner_of PORT -> "host:port" of the RUNNING task, or empty
  curl -s "http://127.0.0.1:$1/connectors/fo/status" | python3 -c 'import json,sys
try:
  t=json.load(sys.stdin)["tasks"][0]; print(t["worker_id"] if t["state"]=="RUNNING" else "")
except Exception: print("")'
}
times=()
for n in $(seq 1 "$FAILOVERS"); do
  alive=(); for i in "${!ports[@]}"; do kill -0 "${wpids[$i]}" 2>/dev/null && alive+=("$i"); done
  ask=${alive[0]}
  owner=""; for _ in $(seq 1 600); do owner=$(owner_of "${ports[$ask]}"); [ -n "$owner" ] && break; sleep 0.1; done
  [ -n "$owner" ] || { echo "no owner of fo" >&2; exit 1; }
  victim=""; for i in "${alive[@]}"; do [ "127.0.0.1:${ports[$i]}" = "$owner" ] && victim=$i; done
  leader_url=$(sed 's/\x1b\[[0-9;]*m//g' "$work/fo-$ask.log" | grep -o 'leader_url=[^ ]*' | tail -1 | cut -d= -f2)
  kill -9 "${wpids[$victim]}"; wait "${wpids[$victim]}" 2>/dev/null || true
  t0=$(date +%s.%N)
  for i in "${alive[@]}"; do [ "$i" != "$victim" ] && ask=$i; done
  moved=""
  for _ in $(seq 1 1200); do
    now=$(owner_of "${ports[$ask]}")
    if [ -n "$now" ] && [ "$now" != "$owner" ]; then moved=$now; break; fi
    sleep 0.1
  done
  t1=$(date +%s.%N)
  role=follower; [ "$leader_url" = "http://$owner" ] && role=leader
  if [ -n "$moved" ]; then
    took=$(echo "$t1 - $t0" | bc -l)
    times+=("$(printf '%.1f' "$took")")
    echo "failover $n: killed $owner ($role); the task RUNNING on $moved $(printf '%.1f' "$took") s later"
  else
    times+=("none")
    echo "failover $n: killed $owner ($role); the task did not move within 120 s (worker logs in $work)"
  fi
  # restart the killed worker so that the next round has three members again
  VELOCITY_LOG=info "$bin" distributed "$work/fo-$victim.properties" >>"$work/fo-$victim.log" 2>&1 &
  wpids[$victim]=$!; pids+=($!)
  wait_health "${ports[$victim]}" || echo "the restarted worker had not joined within 60 s" >&2
done

echo "SIGKILL -> task RUNNING on another worker (s): ${times[*]}"
q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('bench_sa','bench_dist')" >/dev/null

