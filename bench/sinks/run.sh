#!/usr/bin/env bash
# Sink throughput benchmarks (issue 5), straight against the databases (no
# broker: the sink tasks are driven with pre-built records):
#
#   bench/sinks/run.sh [ROWS]        (default 200,000)
#
#   1. JDBC sink → PostgreSQL: ROWS upserts, batch.size 500 and 5,000, bulk
#      COPY + merge vs row-by-row upsert, rows/s and ratio.
#   2. Redis sink: ROWS SETs, pipelined MULTI/EXEC per batch vs one round
#      trip per command, rows/s and ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROWS=${1:-200000}
# VELOCITY_BENCH_NO_UP=1 skips starting the services (when they already run)
[ -n "${VELOCITY_BENCH_NO_UP:-}" ] || VELOCITY_SERVICES=postgres,redis scripts/services.sh up >/dev/null
envs=$(VELOCITY_SERVICES=postgres,redis scripts/services.sh env)
eval "$envs"
cargo bench --quiet -p velocity-connector-jdbc --bench sink_jdbc -- "$ROWS"
cargo bench --quiet -p velocity-connector-redis --bench sink_redis -- "$ROWS"
