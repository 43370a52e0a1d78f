#!/usr/bin/env bash
# Captures the real Debezium 3.6.3 PostgreSQL connector's incremental snapshot
# (signal table, DBLog windows) for tests/postgres_incremental.rs; with
# GOLDEN_KIND=blocking, its blocking snapshot of the same table under the same
# workload (signal from tests/fixtures/postgres/blocking/signal.sql, outputs
# into that folder, offsets kept: those marked "snapshot":"BLOCKING").
#
#   scripts/golden-incremental.sh
#   GOLDEN_KIND=blocking scripts/golden-incremental.sh
#
# It (re)creates database "golden_incremental" on the PostgreSQL given by
# PGHOST/PGPORT/PGUSER/PGPASSWORD (wal_level=logical, superuser), loads
# tests/fixtures/postgres/incremental/schema.sql, runs Debezium (reference in
# $DBZ_REF, default /work/shared/debezium-reference) with snapshot.mode=no_data,
# waits until it streams, inserts signal.sql (execute-snapshot of inc.items)
# while workload.sql changes inc.items in another session, and waits until
# Debezium has been idle for IDLE_MS. Writes, into the fixtures folder:
#   golden.jsonl            every event Debezium emitted
#   final.jsonl             the table's final rows (id, as JSON), for reference
#   offsets.jsonl           the distinct offsets Debezium flushed while the
#                           incremental snapshot ran (Java-serialized keys in hex)
#   debezium.properties     the exact connector properties
# Not for CI: needs java 17 and the reference's jars (downloaded once from PyPI).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
kind="${GOLDEN_KIND:-incremental}"
case "$kind" in incremental|blocking) ;; *) echo "GOLDEN_KIND: incremental or blocking" >&2; exit 2;; esac
# schema and workload are the incremental fixture's; signal and outputs per kind
inc="$root/tests/fixtures/postgres/incremental"
fx="$root/tests/fixtures/postgres/$kind"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-55432}" PGUSER="${PGUSER:-postgres}" PGPASSWORD="${PGPASSWORD:-postgres}"
DBZ_REF="${DBZ_REF:-/work/shared/debezium-reference}"
IDLE_MS="${IDLE_MS:-15000}"
db=golden_$kind
slot=golden_$kind
work="$(mktemp -d /tmp/golden-incremental.XXXXXX)"
props="$work/debezium.properties" events="$work/events.jsonl" dlog="$work/debezium.log"
offsets="$work/offsets.dat"
bg_pid=""
cleanup() { if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then kill "$bg_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
log() { echo "golden-incremental: $*" >&2; }
q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }

[ "$(q -d postgres -c "show wal_level")" = logical ] || { log "wal_level must be logical"; exit 1; }
q -d postgres -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '$slot' and not active" >/dev/null
q -d postgres -c "drop database if exists $db with (force)"
q -d postgres -c "create database $db"
q -d "$db" -f "$inc/schema.sql"

sed -e "s|^offset.storage.file.filename=.*|offset.storage.file.filename=$offsets|" \
    -e "s|^offset.flush.interval.ms=.*|offset.flush.interval.ms=100|" \
    -e "s|^database.hostname=.*|database.hostname=$PGHOST|" \
    -e "s|^database.port=.*|database.port=$PGPORT|" \
    -e "s|^database.user=.*|database.user=$PGUSER|" \
    -e "s|^database.password=.*|database.password=$PGPASSWORD|" \
    -e "s|^database.dbname=.*|database.dbname=$db|" \
    -e "s|^name=.*|name=$db|" \
    -e "s|^slot.name=.*|slot.name=$slot|" \
    -e "s|^snapshot.mode=.*|snapshot.mode=no_data|" \
    -e "/^schema.include.list=/d" \
    "$DBZ_REF/postgres.properties.example" > "$props"
cat >> "$props" <<PROPS
table.include.list=inc.items,inc.other
signal.data.collection=public.debezium_signal
incremental.snapshot.chunk.size=100
PROPS

log "starting Debezium, idle timeout ${IDLE_MS} ms"
nice -n 10 "$DBZ_REF/run.sh" "$props" "$events" 1000000 "$IDLE_MS" >"$dlog" 2>&1 &
bg_pid=$!
waited=0
until [ "$(q -d postgres -c "select count(*) from pg_replication_slots where slot_name = '$slot' and active")" = 1 ]; do
  kill -0 "$bg_pid" 2>/dev/null || { log "Debezium exited early:"; tail -50 "$dlog" >&2; exit 1; }
  sleep 1; waited=$((waited + 1))
  [ "$waited" -lt 600 ] || { log "timed out waiting for streaming"; exit 1; }
done
sleep 3
log "streaming; signalling and running the workload"
q -d "$db" -f "$fx/signal.sql"
q -d "$db" -f "$inc/workload.sql" >/dev/null &
load=$!
# keep every flushed version of the offsets file while the snapshot runs
i=0
while kill -0 "$load" 2>/dev/null || [ $i -lt 100 ]; do
  cp "$offsets" "$work/off.$i" 2>/dev/null || true
  i=$((i + 1)); sleep 0.1
done
wait "$load"
log "workload done; waiting for Debezium to go idle"
wait "$bg_pid"; bg_pid=""
grep -E 'events=' "$dlog" >&2 || true
grep -E 'Incremental snapshot|snapshot-window|Snapshot|Streaming|WARN|ERROR' "$dlog" | cut -c1-250 | sort | uniq -c | sort -rn | head -20 >&2 || true
q -d postgres -c "select pg_drop_replication_slot('$slot')" >/dev/null
python3 - "$work" "$fx/offsets.jsonl" "$kind" <<'PY'
import glob, json, re, sys
seen, out = set(), []
def kept(o):
    if sys.argv[3] == "blocking":
        return o.get("snapshot") == "BLOCKING"
    return "incremental_snapshot_collections" in o
dec = json.JSONDecoder()
for f in sorted(glob.glob(sys.argv[1] + "/off.*"), key=lambda p: int(p.rsplit(".", 1)[1])):
    text = open(f, "rb").read().decode("latin-1")
    for m in re.finditer(r'\{"', text):
        try:
            o, end = dec.raw_decode(text, m.start())
        except ValueError:
            continue
        s = text[m.start():end]
        if isinstance(o, dict) and kept(o) and s not in seen:
            seen.add(s); out.append(s)
open(sys.argv[2], "w").write("".join(l + "\n" for l in out))
print(f"golden-{sys.argv[3]}: {len(out)} distinct offsets kept", file=sys.stderr)
PY
q -d "$db" -c "select json_agg(t order by id) from inc.items t" | python3 -c 'import json,sys; [print(json.dumps(r, separators=(",",":"))) for r in json.load(sys.stdin)]' > "$fx/final.jsonl"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$events"
cp "$events" "$fx/golden.jsonl"
cp "$props" "$fx/debezium.properties"
log "r events: $(grep -c '"op":"r"' "$events"); lines: $(wc -l < "$events"); wrote $fx"
