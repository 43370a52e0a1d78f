#!/usr/bin/env bash
# Run Velocity's whole test suite against the local test services.
#
#   scripts/test.sh                 start the services if needed (idempotent), then
#                                   cargo test --workspace --all-targets
#   scripts/test.sh -- --nocapture  extra arguments are passed on to cargo test
#
# VELOCITY_SERVICES / VELOCITY_*_PORT are honoured as in scripts/services.sh;
# VELOCITY_SKIP_SERVICES=1 skips `services.sh up` (the env vars are still exported).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${VELOCITY_SKIP_SERVICES:-0}" != 1 ]; then
    scripts/services.sh up
fi
eval "$(scripts/services.sh env)"

echo "[test] cargo test --workspace --all-targets $*" >&2
exec cargo test --workspace --all-targets "$@"
