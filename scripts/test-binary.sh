#!/usr/bin/env bash
# Cargo's runner for test binaries under scripts/test.sh: runs one test binary
# with a time limit, so that a hung test fails the suite with its name instead
# of using up CI's whole budget.
#
#   VELOCITY_TEST_BINARY_TIMEOUT  seconds one test binary may run (default 1200)
set -uo pipefail

limit=${VELOCITY_TEST_BINARY_TIMEOUT:-1200}
timeout -k 30 "$limit" "$@"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "[test] $(basename "$1") was still running after ${limit}s and was stopped: a test hangs (the last 'has been running for over 60 seconds' line above names it; run that test alone with -- --nocapture)" >&2
fi
exit "$rc"
