#!/usr/bin/env bash
# Installs the system packages the workspace needs to build, when missing
# (Debian/Ubuntu, apt). Called by scripts/demo.sh, scripts/test.sh and
# .ci/run, so the README's two commands work on a fresh machine.
#
#   scripts/build-deps.sh
#
# As root it installs what is missing; otherwise it names the packages and
# the command to install them, and fails.
set -euo pipefail
export DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-noninteractive}
# What the workspace needs to build: a C toolchain for -sys crates (rdkafka's bundled
# librdkafka is built with its own ./configure + make, no cmake; libz via zlib1g-dev),
# pkg-config, OpenSSL and Cyrus SASL headers (librdkafka's TLS and SASL), perl/python3
# used by librdkafka's build scripts.
# scripts/services.sh installs the services' own packages itself.
missing=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
have_cmd cc || missing+=(build-essential)
have_cmd c++ || missing+=(g++)
have_cmd make || missing+=(make)
have_cmd perl || missing+=(perl)
have_cmd python3 || missing+=(python3)
have_cmd pkg-config || missing+=(pkg-config)
have_cmd git || missing+=(git)
[ -f /usr/include/zlib.h ] || have_pkg zlib1g-dev || missing+=(zlib1g-dev)
[ -f /usr/include/openssl/ssl.h ] || have_pkg libssl-dev || missing+=(libssl-dev)
# librdkafka with SASL (GSSAPI through Cyrus SASL; PLAIN/SCRAM/OAUTHBEARER built in)
[ -f /usr/include/sasl/sasl.h ] || have_pkg libsasl2-dev || missing+=(libsasl2-dev)
have_pkg ca-certificates || missing+=(ca-certificates)
if [ ${#missing[@]} -eq 0 ]; then
    echo "[build-deps] all present" >&2
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "[build-deps] missing build packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "[build-deps] installing: ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

