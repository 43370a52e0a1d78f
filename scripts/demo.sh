#!/usr/bin/env bash
# The main job, end to end: start PostgreSQL (wal_level=logical) and the Kafka
# broker, build Velocity, create a small TMS schema, run a standalone worker
# with the Debezium PostgreSQL connector, change some rows, and print the
# change events that arrived in the topics (technical events); then run the
# whole Velocity pipeline on the TMS schema of examples/velocity/, stage by
# stage: technical events -> domain events (cast, net-change filter, map) and
# business events -> fast-storage tables (examples/velocity/pipeline.sh).
#
#   scripts/demo.sh
#
# Leaves the services running (scripts/services.sh down stops them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# only the services the demo needs; `env` fails (and so does this script)
# when one of them is not running
export VELOCITY_SERVICES=postgres,kafka
scripts/build-deps.sh
scripts/services.sh up
envs=$(scripts/services.sh env)
eval "$envs"

echo "== building velocity"
cargo build --quiet --bin velocity
bin=${CARGO_TARGET_DIR:-target}/debug/velocity

export PGPASSWORD=$VELOCITY_PG_PASSWORD
psql_() { psql -q -v ON_ERROR_STOP=1 "host=$VELOCITY_PG_HOST port=$VELOCITY_PG_PORT user=$VELOCITY_PG_USER dbname=$VELOCITY_PG_DB" "$@"; }

echo "== creating the TMS schema (tms.carrier, tms.shipment, tms.note) with a few rows"
# a fresh demo: drop the previous run's slot, offsets and schema
psql_ -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'velocity_demo' AND NOT active" >/dev/null
psql_ -c "DROP PUBLICATION IF EXISTS velocity_demo" >/dev/null
rm -rf .velocity/demo && mkdir -p .velocity/demo
psql_ -f examples/tms/schema.sql
# each run gets its own topic prefix, so a re-run shows only its own events
prefix="tms$(date +%s)"
topics="$prefix.tms.carrier $prefix.tms.shipment $prefix.tms.note"

port=${VELOCITY_DEMO_PORT:-8083}
sed -e "s#127.0.0.1:59092#$VELOCITY_KAFKA_BOOTSTRAP#" -e "s#:8083#:$port#" examples/standalone/worker.properties > .velocity/demo/worker.properties
sed -e "s#\"55432\"#\"$VELOCITY_PG_PORT\"#" -e "s#\"topic.prefix\": \"tms\"#\"topic.prefix\": \"$prefix\"#" examples/connectors/postgres-tms.json > .velocity/demo/postgres-tms.json

echo "== starting: velocity standalone worker.properties postgres-tms.json (log: .velocity/demo/worker.log)"
"$bin" standalone .velocity/demo/worker.properties .velocity/demo/postgres-tms.json > .velocity/demo/worker.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true; wait $worker 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  state=$(curl -sf "http://127.0.0.1:$port/connectors/tms-postgres/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["connector"]["state"], *[t["state"] for t in s["tasks"]])' 2>/dev/null || true)
  [ "$state" = "RUNNING RUNNING" ] && break
  sleep 0.2
done
echo "connector status: $(curl -s "http://127.0.0.1:$port/connectors/tms-postgres/status")"

echo "== the snapshot is being published; now changing rows (examples/tms/changes.sql)"
sleep 2
psql_ -f examples/tms/changes.sql

echo "== events in the topics ($topics), one line each: topic, key, op, before -> after"
sleep 2
"$bin" tail --bootstrap-servers "$VELOCITY_KAFKA_BOOTSTRAP" --idle-ms 3000 $topics > .velocity/demo/events.jsonl
python3 scripts/show_events.py < .velocity/demo/events.jsonl
events=$(wc -l < .velocity/demo/events.jsonl)
if [ "$events" -eq 0 ]; then
  echo "demo: no change events arrived in $topics; the worker log follows" >&2
  tail -n 50 .velocity/demo/worker.log >&2
  exit 1
fi
ops=$(python3 -c 'import json,sys; print("".join(sorted({json.loads(l)["value"]["payload"]["op"] for l in sys.stdin if json.loads(l)["value"]})))' < .velocity/demo/events.jsonl)
echo "== $events records; operations seen: $ops (r snapshot, c insert, u update, d delete)"
for op in r c u d; do
  case "$ops" in *$op*) ;; *) echo "demo: no '$op' event arrived; the worker log follows" >&2; tail -n 50 .velocity/demo/worker.log >&2; exit 1 ;; esac
done
echo "== one full Debezium-format event: $bin tail --max-records 1 $prefix.tms.shipment"
"$bin" tail --bootstrap-servers "$VELOCITY_KAFKA_BOOTSTRAP" --max-records 1 "$prefix.tms.shipment"
echo "== offsets stored by the worker: $(curl -s "http://127.0.0.1:$port/connectors/tms-postgres/offsets")"

echo
echo "== the whole Velocity pipeline: examples/velocity/pipeline.sh"
kill "$worker" 2>/dev/null || true
wait "$worker" 2>/dev/null || true
VELOCITY_BIN="$bin" examples/velocity/pipeline.sh
