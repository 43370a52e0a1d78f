#!/usr/bin/env bash
# Regenerates tests/fixtures/connect/ with the REAL Kafka Connect 4.3 stores
# (../shared/debezium-reference/connect-topics.sh) against a broker:
#   kafka-written.jsonl          Kafka Connect's stores write a history (`write`, then `dump`)
#   kafka-read.jsonl             what Kafka's readers make of it (`read`)
#   velocity-written.jsonl       what Velocity writes (test velocity_writes_kafka_connects_records), dumped by Kafka's consumer
#   velocity-read-by-kafka.jsonl what Kafka's readers make of Velocity's records (`read`)
# Usage: scripts/connect-fixtures.sh [BOOTSTRAP]   (default: the shared broker)
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${DEBEZIUM_REFERENCE:-$(cd .. && pwd)/shared/debezium-reference}
[ -x "$ref/connect-topics.sh" ] || ref=/work/shared/debezium-reference
b=${1:-${VELOCITY_KAFKA_BOOTSTRAP:-127.0.0.1:59092}}
out=tests/fixtures/connect
mkdir -p "$out"
n=fx$(date +%s)
tmp=$(mktemp -d)
"$ref/connect-topics.sh" write "$b" "kc-$n" "kc-$n-configs" "kc-$n-offsets" "kc-$n-status" "$tmp/kafka-written.jsonl"
cp "$tmp/kafka-written.jsonl" "$out/kafka-written.jsonl"
"$ref/connect-topics.sh" read "$b" "kc-$n" "kc-$n-configs" "kc-$n-offsets" "kc-$n-status" "$out/kafka-read.jsonl"
# Velocity writes its history to vel-$n-*; the test's fixture comparison may
# fail here (that is why the fixture is being regenerated)
VELOCITY_KAFKA_BOOTSTRAP="$b" VELOCITY_CONNECT_TOPICS="vel-$n" \
    cargo test --test connect_topics velocity_writes_kafka_connects_records || true
"$ref/connect-topics.sh" dump "$b" "vel-$n" "vel-$n-configs" "vel-$n-offsets" "vel-$n-status" "$out/velocity-written.jsonl"
"$ref/connect-topics.sh" read "$b" "vel-$n" "vel-$n-configs" "vel-$n-offsets" "vel-$n-status" "$out/velocity-read-by-kafka.jsonl" 2>"$tmp/read.err"
if grep -E 'WARN|ERROR' "$tmp/read.err"; then
    echo "Kafka Connect rejected some of Velocity's records (above)" >&2
    exit 1
fi
echo "fixtures written to $out (topics kc-$n-*, vel-$n-*)"
