#!/usr/bin/env bash
# Run Velocity's whole test suite against the local test services.
#
#   scripts/test.sh                 start the services if needed (idempotent), then
#                                   cargo test --workspace --all-targets
#   scripts/test.sh -- --nocapture  extra arguments are passed on to cargo test
#
# VELOCITY_SERVICES / VELOCITY_*_PORT are honoured as in scripts/services.sh;
# VELOCITY_SKIP_SERVICES=1 skips `services.sh up` (the env vars are still exported).
# Every test binary runs under scripts/test-binary.sh, which stops it after
# VELOCITY_TEST_BINARY_TIMEOUT seconds (default 1200) so a hung test fails fast.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/build-deps.sh
if [ "${VELOCITY_SKIP_SERVICES:-0}" != 1 ]; then
    scripts/services.sh up
fi
envs=$(scripts/services.sh env)
eval "$envs"

host=$(rustc -vV | sed -n 's/^host: //p')
runner_var="CARGO_TARGET_$(echo "$host" | tr 'a-z.-' 'A-Z__')_RUNNER"
export "$runner_var=$(pwd -P)/scripts/test-binary.sh"

echo "[test] cargo test --workspace --all-targets $*" >&2
exec cargo test --workspace --all-targets "$@"
