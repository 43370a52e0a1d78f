#!/usr/bin/env bash
# The whole Velocity chain on the TMS schema of examples/velocity/, stage by
# stage:
#
#   TMS tables (PostgreSQL)  --Debezium PostgreSQL source-->  technical events
#   --cast, net-change filter, business events, map-->  domain topics + business topic
#   --materializing sink (one transaction per batch)-->  fast storage tables
#
#   examples/velocity/pipeline.sh            # uses the services of scripts/services.sh
#
# Env: VELOCITY_BIN (default: build target/debug/velocity), VELOCITY_PIPELINE_PORT
# (REST port, default 8084). Exits non-zero when the fast storage does not
# equal the objects computed from the TMS tables, or the business events
# are not the expected ones.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."

export VELOCITY_SERVICES=${VELOCITY_SERVICES:-postgres,kafka}
scripts/services.sh up >/dev/null
envs=$(scripts/services.sh env)
eval "$envs"
if [ -z "${VELOCITY_BIN:-}" ]; then
  cargo build --quiet --bin velocity
  VELOCITY_BIN=${CARGO_TARGET_DIR:-target}/debug/velocity
fi
bin=$VELOCITY_BIN
work=.velocity/pipeline
rm -rf "$work" && mkdir -p "$work"

export PGPASSWORD=$VELOCITY_PG_PASSWORD
psql_() { psql -X -q -v ON_ERROR_STOP=1 "host=$VELOCITY_PG_HOST port=$VELOCITY_PG_PORT user=$VELOCITY_PG_USER dbname=$VELOCITY_PG_DB" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "stage 0: the TMS schema (pickups, shipments, trips, legs, stops, handling units, notes) and the fast storage"
psql_ -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'velocity_pipeline' AND NOT active" >/dev/null
psql_ -c "DROP PUBLICATION IF EXISTS velocity_pipeline" >/dev/null
psql_ -f examples/velocity/tms-schema.sql
psql_ -f examples/velocity/fast-storage.sql
psql_ -f examples/velocity/seed.sql
echo "examples/velocity/tms-schema.sql, fast-storage.sql, seed.sql loaded into $VELOCITY_PG_DB"

# each run its own topics: the prefix tms -> tms<time>
p="tms$(date +%s)"
port=${VELOCITY_PIPELINE_PORT:-8084}
rewrite() {
  sed -e "s#\"topic.prefix\": \"tms\"#\"topic.prefix\": \"$p\"#" \
      -e "s#tms\.domain\.#$p.domain.#g" -e "s#tms\.business\.#$p.business.#g" \
      -e "s#\"55432\"#\"$VELOCITY_PG_PORT\"#" -e "s#127.0.0.1:55432/velocity#$VELOCITY_PG_HOST:$VELOCITY_PG_PORT/$VELOCITY_PG_DB#" \
      -e "s#\"database.user\": \"velocity\"#\"database.user\": \"$VELOCITY_PG_USER\"#" \
      -e "s#\"database.password\": \"velocity\"#\"database.password\": \"$VELOCITY_PG_PASSWORD\"#" \
      -e "s#\"database.dbname\": \"velocity\"#\"database.dbname\": \"$VELOCITY_PG_DB\"#" \
      -e "s#\"connection.username\": \"velocity\"#\"connection.username\": \"$VELOCITY_PG_USER\"#" \
      -e "s#\"connection.password\": \"velocity\"#\"connection.password\": \"$VELOCITY_PG_PASSWORD\"#" "$1"
}
rewrite examples/velocity/tms-source.json > "$work/tms-source.json"
rewrite examples/velocity/fast-storage-sink.json > "$work/fast-storage-sink.json"
cat > "$work/worker.properties" <<PROPS
bootstrap.servers=$VELOCITY_KAFKA_BOOTSTRAP
listeners=http://127.0.0.1:$port
offset.storage.file.filename=$work/offsets.json
offset.flush.interval.ms=1000
PROPS

say "starting: $bin standalone worker.properties tms-source.json fast-storage-sink.json (log: $work/worker.log)"
"$bin" standalone "$work/worker.properties" "$work/tms-source.json" "$work/fast-storage-sink.json" > "$work/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true; wait $worker 2>/dev/null || true' EXIT
status() { curl -sf "http://127.0.0.1:$port/connectors/$1/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["connector"]["state"], *[t["state"] for t in s["tasks"]])' 2>/dev/null || true; }
for _ in $(seq 1 150); do
  [ "$(status tms-pipeline)" = "RUNNING RUNNING" ] && [ "$(status tms-fast-storage)" = "RUNNING RUNNING" ] && break
  sleep 0.2
done
echo "tms-pipeline: $(status tms-pipeline); tms-fast-storage: $(status tms-fast-storage)"

# the snapshot is done when the seed's shipments are in the fast storage
for _ in $(seq 1 150); do
  [ "$(psql_ -tA -c 'SELECT count(*) FROM fast.shipment')" = "2" ] && break
  sleep 0.2
done

say "stage 1: the TMS changes rows (examples/velocity/workload.sql)"
psql_ -e -f examples/velocity/workload.sql | grep -v '^$' | sed 's/^/    /'

# wait until the fast storage has caught up (or 60 s)
same() {
  psql_ -tA -c "SELECT (SELECT count(*) FROM ((TABLE fast.expected_shipment EXCEPT TABLE fast.shipment) UNION ALL (TABLE fast.shipment EXCEPT TABLE fast.expected_shipment)) a)
    + (SELECT count(*) FROM ((TABLE fast.expected_shipment_stop EXCEPT TABLE fast.shipment_stop) UNION ALL (TABLE fast.shipment_stop EXCEPT TABLE fast.expected_shipment_stop)) b)
    + (SELECT count(*) FROM ((TABLE fast.expected_load_item EXCEPT TABLE fast.load_item) UNION ALL (TABLE fast.load_item EXCEPT TABLE fast.expected_load_item)) c)"
}
for _ in $(seq 1 300); do [ "$(same)" = "0" ] && break; sleep 0.2; done

say "stage 2: technical events (Debezium format, one topic per table): tms.note"
"$bin" tail --bootstrap-servers "$VELOCITY_KAFKA_BOOTSTRAP" --idle-ms 2000 "$p.tms.note" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line); v = r["value"]
    if v is None: print("    %-16s tombstone" % r["topic"]); continue
    p = v.get("payload", v)
    print("    %-16s op=%s txId=%s before=%s after=%s" % (r["topic"], p["op"], p["source"].get("txId"), json.dumps(p["before"]), json.dumps(p["after"])))'
echo "    (the DELETE + INSERT of note 1 is two technical events of one transaction)"

say "stage 3: domain events (cast -> net-change filter -> map): $p.domain.*"
"$bin" tail --bootstrap-servers "$VELOCITY_KAFKA_BOOTSTRAP" --idle-ms 2000 \
  "$p.domain.shipments" "$p.domain.stops" "$p.domain.loaditems" "$p.domain.pickups" "$p.domain.trips" "$p.domain.legs" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line); v = r["value"]
    print("    %-24s %-22s tx=%-6s %s" % (r["topic"].split(".", 1)[1], v["type"], v["tx_id"], json.dumps(v["data"])))'
echo "    (note 1: one NoteUpdated for its DELETE + INSERT; note 2 and SHP-2's delayed/planned round trip: nothing)"

say "stage 4: fast storage (materializing sink, one transaction per batch): fast.shipment, fast.shipment_stop, fast.load_item"
psql_ -c "TABLE fast.shipment ORDER BY 1" -c "TABLE fast.shipment_stop ORDER BY 1" -c "TABLE fast.load_item ORDER BY 1"
diff=$(same)
if [ "$diff" = "0" ]; then
  echo "    fast storage == objects computed from the TMS tables (fast.expected_* views), row for row"
else
  echo "    MISMATCH: $diff rows differ between fast.* and fast.expected_*; see $work/worker.log" >&2
  exit 1
fi

say "stage 5: business events (BusinessEvents transform): $p.business.shipments"
"$bin" tail --bootstrap-servers "$VELOCITY_KAFKA_BOOTSTRAP" --idle-ms 2000 "$p.business.shipments" | tee "$work/business.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    v = json.loads(line)["value"]
    print("    %-22s tx=%-6s %s" % (v["type"], v["tx_id"], json.dumps(v["data"])))'
python3 - "$work/business.jsonl" <<'PY'
import json, sys
got = [json.loads(l)["value"] for l in open(sys.argv[1])]
seen = [(v["type"], v["data"]["shipmentId"], v["data"].get("from"), v["data"].get("to")) for v in got]
want = [("ShipmentStatusChanged", 1, "planned", "dispatched"), ("ShipmentStatusChanged", 1, "dispatched", "in_transit"),
        ("ShipmentStatusChanged", 1, "in_transit", "delivered"), ("ShipmentDelivered", 1, None, None)]
if seen != want:
    sys.exit("    MISMATCH: business events %s, expected %s" % (seen, want))
print("    exactly the expected transitions of SHP-1, once each")
PY
say "done: the worker keeps running until this script exits; REST at http://127.0.0.1:$port/connectors?expand=status"
