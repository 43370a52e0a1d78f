#!/usr/bin/env bash
# Materializing sink (one object into three PostgreSQL tables) vs the JDBC
# sink (the same shipments into one table), same run, no broker:
#
#   bench/materialize/run.sh [EVENTS]      (default 50,000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ -n "${VELOCITY_BENCH_NO_UP:-}" ] || VELOCITY_SERVICES=postgres scripts/services.sh up >/dev/null
eval "$(VELOCITY_SERVICES=postgres scripts/services.sh env)"
cargo bench --quiet -p velocity --bench materialize_vs_jdbc -- "${1:-50000}"
