#!/usr/bin/env bash
# Local test services for Velocity, without Docker.
#
#   scripts/services.sh up       start (and on first use install/initialise) the services
#   scripts/services.sh down     stop the services this checkout started
#   scripts/services.sh status   print up/down per service; exits non-zero if any is down
#   scripts/services.sh env      print `export VELOCITY_...=...` lines of every selected service
#                                (defaults for one that is not running); exit status: the sum of
#                                the bits of the services not running (postgres 1, mariadb 2,
#                                redis 4, kafka 8, mariadb-replica 16), 0 when all are up. Use it as
#                                  envs=$(scripts/services.sh env) && eval "$envs"
#                                so that a service that is down stops the caller (eval "$(...)"
#                                would hide the status).
#
# Services (all bound to 127.0.0.1 only, each with its own data under
# <repo>/.velocity/services/<name>/, never touching the system's own instances):
#
#   postgres  PostgreSQL (Debian's), port $VELOCITY_PG_PORT      (default 55432)
#             wal_level=logical, SCRAM passwords, TLS with a self-signed cert
#             roles: postgres/postgres (superuser), velocity/velocity (LOGIN REPLICATION)
#             databases: velocity, sink (both owned by velocity)
#   mariadb   MariaDB, port $VELOCITY_MARIADB_PORT                (default 53306)
#             binlog ROW/FULL, GTID strict mode; user velocity/velocity; databases velocity, sink
#             TLS: a test CA (tls/ca.crt, exported as VELOCITY_MARIADB_SSLCA) signs a server
#             certificate for `localhost` only, so 127.0.0.1 is the "wrong host name" case
#   mariadb-replica  a second MariaDB, port $VELOCITY_MARIADB_REPLICA_PORT (default the
#             primary's + 1), server_id 2, read-only, replicating everything from `mariadb`
#             by GTID (MASTER_USE_GTID=slave_pos) and binlogging it (log_slave_updates), so
#             that a connector can fail over to it; `up` waits until it caught up. Needs the
#             primary running (`up` starts `mariadb` first when both are selected)
#   redis     redis-server, port $VELOCITY_REDIS_PORT             (default 56379), nothing on disk
#   kafka     tansu (Kafka-protocol broker, SQLite storage), port $VELOCITY_KAFKA_PORT (default 59092)
#
# Environment knobs:
#   VELOCITY_SERVICES=postgres,kafka   only these (default: postgres,mariadb,mariadb-replica,redis,kafka)
#   VELOCITY_PG_PORT / VELOCITY_MARIADB_PORT / VELOCITY_MARIADB_REPLICA_PORT /
#   VELOCITY_REDIS_PORT / VELOCITY_KAFKA_PORT
#   VELOCITY_SERVICES_TIMEOUT          seconds to wait for each service to accept connections (default 90)
#   VELOCITY_TANSU_VERSION             tansu version `cargo install`ed when tansu is missing (default 0.6.0)
#
# Runs as root on Debian 12 (installs missing Debian packages with apt-get); as a
# normal user it works too when everything is already installed.
#
# PostgreSQL and MariaDB run as the `postgres` / `mysql` OS users when this script
# runs as root. If those users cannot reach <repo>/.velocity/services (e.g. the repo
# is under /root), their data goes to /var/tmp/velocity-<hash of repo path>/<name>
# and <repo>/.velocity/services/<name> becomes a symlink to it.
#
# If a port is already taken by a Velocity-managed instance of the same service from
# ANOTHER checkout on this machine, `up` reuses it (same credentials) instead of failing.

set -euo pipefail
umask 022
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE_DIR="$REPO/.velocity/services"
REPO_HASH=$(printf '%s' "$REPO" | sha256sum | cut -c1-12)
ALT_DIR="/var/tmp/velocity-$REPO_HASH"

PG_PORT=${VELOCITY_PG_PORT:-55432}
MARIADB_PORT=${VELOCITY_MARIADB_PORT:-53306}
MARIADB_REPLICA_PORT=${VELOCITY_MARIADB_REPLICA_PORT:-$((MARIADB_PORT + 1))}
REDIS_PORT=${VELOCITY_REDIS_PORT:-56379}
KAFKA_PORT=${VELOCITY_KAFKA_PORT:-59092}
TIMEOUT=${VELOCITY_SERVICES_TIMEOUT:-90}
TANSU_VERSION=${VELOCITY_TANSU_VERSION:-0.6.0}
TANSU_FEATURES=dynostore,libsql
TANSU_INSTALL_TIMEOUT=${VELOCITY_TANSU_INSTALL_TIMEOUT:-3000}
KAFKA_CLUSTER_ID=velocity-test-cluster

HOST=127.0.0.1
PG_USER=velocity PG_PASSWORD=velocity PG_DB=velocity PG_SINK_DB=sink
PG_SUPERUSER=postgres PG_SUPERUSER_PASSWORD=postgres
MARIADB_USER=velocity MARIADB_PASSWORD=velocity MARIADB_DB=velocity MARIADB_SINK_DB=sink

ALL_SERVICES=(postgres mariadb mariadb-replica redis kafka)
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

# ----------------------------------------------------------------------------- helpers

log() { printf '[services] %s\n' "$*" >&2; }
die() {
    printf '[services] ERROR: %s\n' "$*" >&2
    exit 1
}

# die, showing the tail of a log file first
die_log() {
    local msg=$1
    shift
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then
            printf '[services] ---- last 40 lines of %s ----\n' "$f" >&2
            tail -n 40 "$f" >&2 || true
            printf '[services] ----\n' >&2
        fi
    done
    die "$msg"
}

selected_services() {
    local raw=${VELOCITY_SERVICES:-all} s out=()
    for s in ${raw//,/ }; do
        case "$s" in
        postgres | postgresql | pg) out+=(postgres) ;;
        mariadb | mysql) out+=(mariadb) ;;
        mariadb-replica | mysql-replica | replica) out+=(mariadb-replica) ;;
        redis) out+=(redis) ;;
        kafka | tansu) out+=(kafka) ;;
        all) out+=("${ALL_SERVICES[@]}") ;;
        "") ;;
        *) die "unknown service '$s' in VELOCITY_SERVICES (known: ${ALL_SERVICES[*]})" ;;
        esac
    done
    # keep canonical order, drop duplicates
    local a b
    for a in "${ALL_SERVICES[@]}"; do
        for b in "${out[@]}"; do
            if [ "$a" = "$b" ]; then
                echo "$a"
                break
            fi
        done
    done
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# pid of the process listening on 127.0.0.1:$1 (empty when unknown)
port_pid() {
    command -v ss >/dev/null 2>&1 || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

read_pid() { [ -s "$1" ] && head -n1 "$1" | tr -dc '0-9' || true; }

# If the listener on port $1 is a Velocity-managed instance of service $2 from some
# other checkout, print its directory.
foreign_instance() {
    local pid cwd d
    pid=$(port_pid "$1")
    [ -n "$pid" ] || return 1
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
    for d in "$cwd" "$(dirname "$cwd")"; do
        if [ -f "$d/.velocity-service" ] && [ "$(cat "$d/.velocity-service")" = "$2" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

# Like foreign_instance, but never this checkout's own instance of service $2
# (whose state its own status check tells).
shared_instance() {
    local d
    d=$(foreign_instance "$1" "$2") && [ "$d" != "$(svc_dir "$2")" ] && echo "$d"
}

# Fail unless port $2 is free; service name $1. Returns 1 (no error) when the port is
# held by a reusable Velocity instance of the same service from another checkout.
check_port_free() {
    local svc=$1 port=$2 other
    port_open "$port" || return 0
    if other=$(foreign_instance "$port" "$svc"); then
        log "$svc: port $port is served by another checkout's Velocity instance ($other); reusing it"
        return 1
    fi
    local pid
    pid=$(port_pid "$port")
    die "$svc: port $HOST:$port is already in use by another program${pid:+ (pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120))}; set VELOCITY_$(svc_port_var "$svc")=<free port>"
}

svc_port_var() {
    case "$1" in
    postgres) echo PG_PORT ;;
    mariadb) echo MARIADB_PORT ;;
    mariadb-replica) echo MARIADB_REPLICA_PORT ;;
    redis) echo REDIS_PORT ;;
    kafka) echo KAFKA_PORT ;;
    esac
}

# wait until command "$@" succeeds, up to $TIMEOUT seconds
wait_for() {
    local what=$1
    shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            return 1
        fi
        sleep 0.5
    done
    log "$what is accepting connections"
}

# ------------------------------------------------------------------------ packages

apt_updated=0
apt_install() {
    [ $# -gt 0 ] || return 0
    if [ $IS_ROOT != 1 ]; then
        die "missing packages: $* (run as root, or: sudo apt-get install -y $*)"
    fi
    command -v apt-get >/dev/null || die "missing packages $* and no apt-get (this script targets Debian 12)"
    if [ $apt_updated = 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed"
        apt_updated=1
    fi
    log "apt-get install -y $*"
    apt-get install -y -qq --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

pg_bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return
        fi
    fi
    # newest installed server
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
    fi
}

ensure_packages() {
    local pkgs=() s
    command -v ss >/dev/null 2>&1 || pkgs+=(iproute2)
    command -v timeout >/dev/null 2>&1 || pkgs+=(coreutils)
    for s in "$@"; do
        case "$s" in
        postgres)
            [ -n "$(pg_bindir)" ] || pkgs+=(postgresql)
            command -v psql >/dev/null 2>&1 || pkgs+=(postgresql-client)
            command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
            ;;
        mariadb | mariadb-replica)
            { [ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null 2>&1; } &&
                command -v mariadb-install-db >/dev/null 2>&1 || pkgs+=(mariadb-server)
            { command -v mariadb >/dev/null 2>&1 && command -v mariadb-admin >/dev/null 2>&1; } ||
                pkgs+=(mariadb-client)
            command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
            ;;
        redis)
            command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
            command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-tools)
            ;;
        kafka)
            if [ -z "$(tansu_bin)" ]; then
                # what `cargo install tansu` needs to build its C dependencies
                command -v cc >/dev/null 2>&1 || pkgs+=(build-essential)
                command -v c++ >/dev/null 2>&1 || pkgs+=(g++)
                command -v make >/dev/null 2>&1 || pkgs+=(make)
                command -v pkg-config >/dev/null 2>&1 || pkgs+=(pkg-config)
            fi
            ;;
        esac
    done
    if [ ${#pkgs[@]} -gt 0 ]; then
        # dedupe
        mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
        apt_install "${pkgs[@]}"
    fi
}

# --------------------------------------------------------------------- directories

# run a command as OS user $1 (or as ourselves when not root)
as_user() {
    local user=$1
    shift
    if [ $IS_ROOT = 1 ] && [ "$user" != root ]; then
        (cd / && runuser -u "$user" -- "$@")
    else
        "$@"
    fi
}

# The directory of service $1 (no side effects).
svc_dir() {
    local d="$STATE_DIR/$1"
    if [ -L "$d" ]; then
        readlink -f "$d"
    else
        echo "$d"
    fi
}

# Create the directory of service $1, reachable by OS user $2 (may be empty), and print it.
make_svc_dir() {
    local name=$1 user=${2:-} d="$STATE_DIR/$1"
    if [ ! -d "$STATE_DIR" ]; then
        mkdir -p "$STATE_DIR"
        chmod 755 "$REPO/.velocity" "$STATE_DIR" 2>/dev/null || true
    fi
    if [ -L "$d" ]; then
        d=$(readlink -f "$d")
        mkdir -p "$d"
    elif [ ! -d "$d" ]; then
        mkdir -p "$d"
        chmod 755 "$d"
        if [ $IS_ROOT = 1 ] && [ -n "$user" ] && ! runuser -u "$user" -- test -x "$d" 2>/dev/null; then
            rmdir "$d"
            mkdir -p "$ALT_DIR/$name"
            chmod 755 "$ALT_DIR" "$ALT_DIR/$name"
            ln -s "$ALT_DIR/$name" "$d"
            log "note: OS user '$user' cannot reach $STATE_DIR; $name data lives in $ALT_DIR/$name (symlinked from $d)"
            d="$ALT_DIR/$name"
        fi
    fi
    echo "$1" >"$d/.velocity-service"
    echo "$d"
}

# Directory for a unix socket (paths are limited to ~107 bytes).
sock_dir() {
    local home=$1 name=$2
    if [ ${#home} -le 70 ]; then
        echo "$home/run"
    else
        echo "/tmp/velocity-$REPO_HASH-$name"
    fi
}

# ----------------------------------------------------------------------- postgres

PG_BIN=""
pg_vars() {
    PG_HOME=$(svc_dir postgres)
    PGDATA_DIR="$PG_HOME/data"
    PG_RUN=$(sock_dir "$PG_HOME" postgres)
    PG_LOG="$PG_HOME/postgres.log"
}

pg_running() {
    pg_vars
    [ -f "$PGDATA_DIR/PG_VERSION" ] || return 1
    [ -n "$PG_BIN" ] || PG_BIN=$(pg_bindir)
    [ -n "$PG_BIN" ] || return 1
    as_user postgres "$PG_BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

pg_psql() { # superuser over the unix socket
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres "$@"
}

pg_up() {
    PG_BIN=$(pg_bindir)
    [ -n "$PG_BIN" ] || die "postgres: no PostgreSQL server binaries found (pg_config --bindir, /usr/lib/postgresql/*/bin)"
    if [ $IS_ROOT = 1 ]; then
        id postgres >/dev/null 2>&1 || die "postgres: OS user 'postgres' does not exist (is the postgresql package installed?)"
        PG_HOME=$(make_svc_dir postgres postgres)
    else
        PG_HOME=$(make_svc_dir postgres)
    fi
    pg_vars
    local owner=postgres
    [ $IS_ROOT = 1 ] || owner=$(id -un)

    restart_if_port_changed postgres "$PG_HOME" "$PG_PORT"
    if pg_running; then
        log "postgres: already running (data $PGDATA_DIR)"
    else
        if ! check_port_free postgres "$PG_PORT"; then
            wait_for "postgres on $HOST:$PG_PORT" "$PG_BIN/pg_isready" -q -h $HOST -p "$PG_PORT" -t 2 ||
                die "postgres: shared instance on port $PG_PORT is not ready"
            return 0
        fi
        mkdir -p "$PG_RUN"
        chown "$owner" "$PG_HOME" "$PG_RUN"
        chmod 755 "$PG_RUN"
        if [ ! -f "$PG_HOME/.initdb-done" ]; then
            log "postgres: initdb in $PGDATA_DIR"
            rm -rf "$PGDATA_DIR"
            mkdir -p "$PGDATA_DIR"
            chown "$owner" "$PGDATA_DIR"
            chmod 700 "$PGDATA_DIR"
            local pwfile="$PG_HOME/.pwfile"
            printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pwfile"
            chown "$owner" "$pwfile"
            chmod 600 "$pwfile"
            if ! as_user postgres "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --pwfile="$pwfile" \
                --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
                >"$PG_HOME/initdb.log" 2>&1; then
                rm -f "$pwfile"
                die_log "postgres: initdb failed" "$PG_HOME/initdb.log"
            fi
            rm -f "$pwfile"
            echo "include_if_exists = 'velocity.conf'" >>"$PGDATA_DIR/postgresql.conf"
            # self-signed certificate so that sslmode=require works
            openssl req -new -x509 -days 3650 -nodes -subj "/CN=127.0.0.1" \
                -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
                -keyout "$PGDATA_DIR/server.key" -out "$PGDATA_DIR/server.crt" \
                >"$PG_HOME/openssl.log" 2>&1 || die_log "postgres: openssl failed" "$PG_HOME/openssl.log"
            chown "$owner" "$PGDATA_DIR/server.key" "$PGDATA_DIR/server.crt"
            chmod 600 "$PGDATA_DIR/server.key"
            touch "$PG_HOME/.initdb-done"
        fi
        # (re)written on every start, so port changes apply
        cat >"$PGDATA_DIR/velocity.conf" <<EOF
# written by scripts/services.sh on every start
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 200
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
# test-only speedups: data may be lost on a machine crash
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
        cat >"$PGDATA_DIR/pg_hba.conf" <<EOF
# written by scripts/services.sh on every start
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256
EOF
        chown "$owner" "$PGDATA_DIR/velocity.conf" "$PGDATA_DIR/pg_hba.conf"
        touch "$PG_LOG"
        chown "$owner" "$PG_LOG"
        log "postgres: starting on $HOST:$PG_PORT"
        if ! (cd "$PGDATA_DIR" && as_user postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" \
            -w -t "$TIMEOUT" start >"$PG_HOME/pg_ctl.log" 2>&1); then
            die_log "postgres: failed to start" "$PG_HOME/pg_ctl.log" "$PG_LOG"
        fi
        echo "$PG_PORT" >"$PG_HOME/.port"
    fi
    wait_for "postgres on $HOST:$PG_PORT" "$PG_BIN/pg_isready" -q -h $HOST -p "$PG_PORT" -t 2 ||
        die_log "postgres: not accepting connections on $HOST:$PG_PORT after ${TIMEOUT}s" "$PG_LOG"

    # idempotent provisioning
    pg_psql -d postgres >"$PG_HOME/provision.log" 2>&1 <<SQL || die_log "postgres: provisioning failed" "$PG_HOME/provision.log"
SET password_encryption = 'scram-sha-256';
ALTER ROLE postgres WITH SUPERUSER LOGIN PASSWORD '$PG_SUPERUSER_PASSWORD';
SELECT 'CREATE ROLE $PG_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER')
\gexec
ALTER ROLE $PG_USER WITH LOGIN REPLICATION PASSWORD '$PG_PASSWORD';
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB')
\gexec
SELECT 'CREATE DATABASE $PG_SINK_DB OWNER $PG_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_SINK_DB')
\gexec
SQL
}

pg_down() {
    pg_vars
    if pg_running; then
        log "postgres: stopping"
        as_user postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t "$TIMEOUT" stop >/dev/null ||
            die_log "postgres: failed to stop" "$PG_LOG"
    else
        log "postgres: not running"
    fi
}

pg_status() {
    pg_running && [ -n "$PG_BIN" ] && "$PG_BIN/pg_isready" -q -h $HOST -p "$PG_PORT" -t 2
}

# ------------------------------------------------------------------------ mariadb
#
# Two services share this code: `mariadb`, the server every test uses, and
# `mariadb-replica`, a second server that replicates from it by GTID (for the
# failover test of the MySQL/MariaDB source). `my_vars SERVICE` points the
# MY_* variables at one of them.

mariadbd_bin() {
    if [ -x /usr/sbin/mariadbd ]; then echo /usr/sbin/mariadbd; else command -v mariadbd || true; fi
}

# MY_* of service $1 (default mariadb): port, server_id, directories, files.
my_vars() {
    MY_SVC=${1:-mariadb}
    case "$MY_SVC" in
    mariadb) MY_PORT=$MARIADB_PORT MY_SERVER_ID=1 ;;
    mariadb-replica) MY_PORT=$MARIADB_REPLICA_PORT MY_SERVER_ID=2 ;;
    *) die "my_vars: not a MariaDB service: $MY_SVC" ;;
    esac
    MY_HOME=$(svc_dir "$MY_SVC")
    MY_DATA="$MY_HOME/data"
    MY_RUN=$(sock_dir "$MY_HOME" "$MY_SVC")
    MY_CNF="$MY_HOME/my.cnf"
    MY_LOG="$MY_HOME/mariadb.log"
    MY_PIDFILE="$MY_RUN/mariadb.pid"
}

# this checkout's instance of service $1 (default mariadb) is running
my_running() {
    my_vars "${1:-mariadb}"
    local pid
    pid=$(read_pid "$MY_PIDFILE")
    pid_alive "$pid" && grep -qE 'mariadbd|mysqld' "/proc/$pid/comm" 2>/dev/null
}

# the velocity user over TCP on port $1 (default the primary's), running the
# arguments as client options (default: a login check)
my_client() {
    local port=${1:-$MARIADB_PORT}
    shift || true
    [ $# -gt 0 ] || set -- -e 'SELECT 1'
    mariadb --no-defaults --protocol=TCP -h $HOST -P "$port" -u"$MARIADB_USER" \
        -p"$MARIADB_PASSWORD" -N "$@" "$MARIADB_DB"
}

# a real login over TCP as the velocity user on port $1 (default the
# primary's; mariadb-admin ping exits 0 even on "access denied")
my_tcp_check() { my_client "${1:-$MARIADB_PORT}"; }

my_admin() { mariadb-admin --defaults-file="$MY_CNF" -uroot "$@"; }

# root over the unix socket of the instance of my_vars
my_root() { mariadb --defaults-file="$MY_CNF" -uroot "$@"; }

# A test CA and a server certificate it signs, made once in $MY_HOME/tls. The
# server certificate names `localhost` only (CN and subjectAltName): with
# database.ssl.mode=verify_identity, hostname localhost verifies and 127.0.0.1
# is refused (the wrong-host-name case); verify_ca accepts both.
my_tls_files() {
    local t="$MY_HOME/tls"
    [ -f "$t/server.crt" ] && [ -f "$t/ca.crt" ] && return 0
    mkdir -p "$t"
    {
        openssl req -new -x509 -days 3650 -nodes -subj "/CN=Velocity test MariaDB CA" \
            -keyout "$t/ca.key" -out "$t/ca.crt" &&
            openssl req -new -nodes -subj "/CN=localhost" \
                -keyout "$t/server.key" -out "$t/server.csr" &&
            printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=CA:FALSE" \
                "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$t/server.ext" &&
            openssl x509 -req -days 3650 -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" \
                -CAcreateserial -extfile "$t/server.ext" -out "$t/server.crt"
    } >"$MY_HOME/openssl.log" 2>&1 || {
        rm -f "$t/server.crt"
        die_log "$MY_SVC: openssl failed" "$MY_HOME/openssl.log"
    }
    chmod 600 "$t/server.key" "$t/ca.key"
}

# Starts this checkout's instance of service $1 (installing it on first use)
# unless it runs already, and sets MY_SHARED: 0 for this checkout's instance,
# 1 when the port is served by another checkout's instance of the service
# (reused as it is).
my_start() {
    local svc=$1 bin
    bin=$(mariadbd_bin)
    [ -n "$bin" ] || die "$svc: mariadbd not found"
    if [ $IS_ROOT = 1 ]; then
        id mysql >/dev/null 2>&1 || die "$svc: OS user 'mysql' does not exist"
        make_svc_dir "$svc" mysql >/dev/null
    else
        make_svc_dir "$svc" >/dev/null
    fi
    my_vars "$svc"
    MY_SHARED=0
    local owner=mysql userline="user = mysql"
    [ $IS_ROOT = 1 ] || {
        owner=$(id -un)
        userline="# (not root: runs as $owner)"
    }

    restart_if_port_changed "$svc" "$MY_HOME" "$MY_PORT"
    if my_running "$svc"; then
        log "$svc: already running (data $MY_DATA)"
        return 0
    fi
    if ! check_port_free "$svc" "$MY_PORT"; then
        wait_for "$svc on $HOST:$MY_PORT" my_tcp_check "$MY_PORT" ||
            die "$svc: shared instance on port $MY_PORT is not ready"
        MY_SHARED=1
        return 0
    fi
    mkdir -p "$MY_RUN"
    my_tls_files
    local role="# the primary"
    if [ "$svc" = mariadb-replica ]; then
        # only its SQL thread writes (the velocity user has no READ ONLY ADMIN)
        role="# a replica of the server on port $MARIADB_PORT (see rep_up)
read_only = ON
relay_log = relay-bin"
    fi
    cat >"$MY_CNF" <<EOF
# written by scripts/services.sh on every start
[client]
port = $MY_PORT
socket = $MY_RUN/mariadb.sock

[mysqld]
$userline
datadir = $MY_DATA
socket = $MY_RUN/mariadb.sock
pid-file = $MY_PIDFILE
port = $MY_PORT
bind-address = 127.0.0.1
skip-name-resolve
log-error = $MY_LOG
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
# CDC (what Debezium's MySQL/MariaDB connectors expect)
server_id = $MY_SERVER_ID
log_bin = mariadb-bin
binlog_format = ROW
binlog_row_image = FULL
binlog_row_metadata = FULL
gtid_strict_mode = ON
log_slave_updates = ON
binlog_expire_logs_seconds = 604800
max_binlog_size = 64M
$role
# test-only speedups
innodb_buffer_pool_size = 128M
innodb_flush_log_at_trx_commit = 2
sync_binlog = 0
max_connections = 300
# TLS (database.ssl.mode of the MySQL/MariaDB source): see my_tls_files
ssl_ca = $MY_HOME/tls/ca.crt
ssl_cert = $MY_HOME/tls/server.crt
ssl_key = $MY_HOME/tls/server.key
EOF
    if [ ! -f "$MY_HOME/.install-db-done" ]; then
        log "$svc: mariadb-install-db in $MY_DATA"
        rm -rf "$MY_DATA"
        mkdir -p "$MY_DATA"
        chown -R "$owner" "$MY_HOME"
        if ! mariadb-install-db --defaults-file="$MY_CNF" --user="$owner" \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$MY_HOME/install-db.log" 2>&1; then
            die_log "$svc: mariadb-install-db failed" "$MY_HOME/install-db.log"
        fi
        touch "$MY_HOME/.install-db-done"
    fi
    chown -R "$owner" "$MY_HOME" "$MY_RUN"
    log "$svc: starting on $HOST:$MY_PORT"
    echo "$MY_PORT" >"$MY_HOME/.port"
    # the subshell execs into mariadbd, so nothing of ours lingers holding our stdout/stderr
    (cd "$MY_DATA" && exec setsid nohup "$bin" --defaults-file="$MY_CNF") \
        >>"$MY_HOME/mariadbd.out" 2>&1 </dev/null &
    if ! wait_for "$svc (socket)" my_admin ping; then
        die_log "$svc: not ready after ${TIMEOUT}s" "$MY_HOME/mariadbd.out" "$MY_LOG"
    fi
}

my_up() {
    my_start mariadb
    [ "$MY_SHARED" = 0 ] || return 0

    # idempotent provisioning (root via the unix socket)
    local u
    {
        echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DB\`;"
        echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_SINK_DB\`;"
        for u in "'$MARIADB_USER'@'%'" "'$MARIADB_USER'@'localhost'"; do
            echo "CREATE USER IF NOT EXISTS $u IDENTIFIED BY '$MARIADB_PASSWORD';"
            echo "ALTER USER $u IDENTIFIED BY '$MARIADB_PASSWORD';"
            echo "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO $u;"
            echo "GRANT ALL PRIVILEGES ON \`$MARIADB_DB\`.* TO $u;"
            echo "GRANT ALL PRIVILEGES ON \`$MARIADB_SINK_DB\`.* TO $u;"
        done
        echo "FLUSH PRIVILEGES;"
    } | my_root >"$MY_HOME/provision.log" 2>&1 ||
        die_log "mariadb: provisioning failed" "$MY_HOME/provision.log"

    wait_for "mariadb on $HOST:$MARIADB_PORT" my_tcp_check ||
        die_log "mariadb: not accepting TCP connections on $HOST:$MARIADB_PORT" "$MY_LOG"
}

# The replica: a second mariadbd (port $MARIADB_REPLICA_PORT, server_id 2,
# read-only) that replicates everything from the primary on $MARIADB_PORT
# by GTID (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos, as the velocity
# user), starting from the primary's first binlog, and binlogs what it
# applies (log_slave_updates) with the primary's GTIDs, so that a connector
# can move from one to the other. `up` waits until it applied all that the
# primary had binlogged. A replica of another port, or whose replication
# broke, is made again from scratch (once per `up`).
rep_up() {
    my_tcp_check "$MARIADB_PORT" >/dev/null 2>&1 ||
        die "mariadb-replica: no primary MariaDB on $HOST:$MARIADB_PORT to replicate from; start both with: VELOCITY_SERVICES=mariadb,mariadb-replica scripts/services.sh up"
    local attempt had
    for attempt in 1 2; do
        my_vars mariadb-replica
        had=$(cat "$MY_HOME/.primary-port" 2>/dev/null || true)
        if [ -n "$had" ] && [ "$had" != "$MARIADB_PORT" ]; then
            log "mariadb-replica: it replicates from port $had, the primary is on $MARIADB_PORT now; making it again"
            rep_reset
        fi
        my_start mariadb-replica
        [ "$MY_SHARED" = 0 ] || return 0
        if [ ! -f "$MY_HOME/.primary-port" ]; then
            log "mariadb-replica: replicating from $HOST:$MARIADB_PORT by GTID, from its first binlog"
            my_root >"$MY_HOME/change-master.log" 2>&1 <<SQL || die_log "mariadb-replica: CHANGE MASTER failed" "$MY_HOME/change-master.log"
SET GLOBAL gtid_slave_pos = '';
CHANGE MASTER TO MASTER_HOST = '$HOST', MASTER_PORT = $MARIADB_PORT,
  MASTER_USER = '$MARIADB_USER', MASTER_PASSWORD = '$MARIADB_PASSWORD',
  MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;
START SLAVE;
SQL
            echo "$MARIADB_PORT" >"$MY_HOME/.primary-port"
        fi
        if rep_catch_up; then
            wait_for "mariadb-replica on $HOST:$MY_PORT" my_tcp_check "$MY_PORT" ||
                die_log "mariadb-replica: not accepting TCP connections on $HOST:$MY_PORT" "$MY_LOG"
            return 0
        fi
        [ $attempt = 2 ] || {
            log "mariadb-replica: $REP_ERROR; making the replica again"
            rep_reset
        }
    done
    die_log "mariadb-replica: $REP_ERROR (it replays the primary's binlogs from the first: a primary that purged binlogs cannot seed it)" "$MY_LOG"
}

# Stops this checkout's replica and deletes its data (the next start
# installs and seeds it again).
rep_reset() {
    my_down mariadb-replica
    my_vars mariadb-replica
    rm -rf "$MY_DATA" "$MY_HOME/.install-db-done" "$MY_HOME/.primary-port"
}

# `SHOW SLAVE STATUS` field $1 of the replica of my_vars
rep_field() { sed -n "s/^ *$1: //p" <<<"$REP_STATUS" | head -n 1; }

# Waits until the replica (my_vars) applied every transaction the primary
# had binlogged when called (MASTER_GTID_WAIT); fails, with REP_ERROR
# saying why, when replication stopped on an error or did not catch up in
# $TIMEOUT seconds.
rep_catch_up() {
    local target deadline=$((SECONDS + TIMEOUT))
    target=$(my_client "$MARIADB_PORT" -e 'SELECT @@global.gtid_binlog_pos') || {
        REP_ERROR="cannot read the primary's @@gtid_binlog_pos"
        return 1
    }
    while [ "$(my_root -N -e "SELECT MASTER_GTID_WAIT('$target', 1)" 2>/dev/null)" != 0 ]; do
        REP_STATUS=$(my_root -e 'SHOW SLAVE STATUS\G' 2>/dev/null || true)
        if [ -n "$(rep_field Last_SQL_Error)" ]; then
            REP_ERROR="replication stopped: $(rep_field Last_SQL_Error)"
            return 1
        fi
        if [ "$(rep_field Last_IO_Errno)" = 1236 ]; then
            REP_ERROR="replication stopped: $(rep_field Last_IO_Error)"
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            REP_ERROR="not caught up with the primary's GTID position $target after ${TIMEOUT}s (IO thread: $(rep_field Slave_IO_Running) $(rep_field Last_IO_Error))"
            return 1
        fi
    done
    log "mariadb-replica: caught up with the primary (GTID position ${target:-empty})"
}

# this checkout's replica runs and replicates (both threads running)
rep_status() {
    my_status mariadb-replica || return 1
    REP_STATUS=$(my_root -e 'SHOW SLAVE STATUS\G' 2>/dev/null) || return 1
    [ "$(rep_field Slave_IO_Running)" = Yes ] && [ "$(rep_field Slave_SQL_Running)" = Yes ]
}

# stops this checkout's instance of service $1 (default mariadb)
my_down() {
    local svc=${1:-mariadb}
    if my_running "$svc"; then
        local pid
        pid=$(read_pid "$MY_PIDFILE")
        log "$svc: stopping"
        my_admin shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + TIMEOUT))
        while pid_alive "$pid"; do
            if [ $SECONDS -ge $deadline ]; then
                log "$svc: did not stop in ${TIMEOUT}s, killing $pid"
                kill -9 "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.5
        done
    else
        log "$svc: not running"
    fi
}

my_status() {
    my_running "${1:-mariadb}" && my_tcp_check "$MY_PORT" >/dev/null 2>&1
}

# -------------------------------------------------------------------------- redis

redis_vars() {
    REDIS_HOME=$(svc_dir redis)
    REDIS_PIDFILE="$REDIS_HOME/redis.pid"
    REDIS_LOG="$REDIS_HOME/redis.log"
}

redis_running() {
    redis_vars
    local pid
    pid=$(read_pid "$REDIS_PIDFILE")
    pid_alive "$pid" && grep -q 'redis' "/proc/$pid/comm" 2>/dev/null
}

redis_ping() { [ "$(redis-cli -h $HOST -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_up() {
    REDIS_HOME=$(make_svc_dir redis)
    redis_vars
    restart_if_port_changed redis "$REDIS_HOME" "$REDIS_PORT"
    if redis_running; then
        log "redis: already running (dir $REDIS_HOME)"
    else
        if ! check_port_free redis "$REDIS_PORT"; then
            wait_for "redis on $HOST:$REDIS_PORT" redis_ping || die "redis: shared instance not ready"
            return 0
        fi
        log "redis: starting on $HOST:$REDIS_PORT"
        echo "$REDIS_PORT" >"$REDIS_HOME/.port"
        (cd "$REDIS_HOME" && redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
            --save "" --appendonly no --dir "$REDIS_HOME" --logfile "$REDIS_LOG" \
            --pidfile "$REDIS_PIDFILE" >"$REDIS_HOME/redis.out" 2>&1) ||
            die_log "redis: failed to start" "$REDIS_HOME/redis.out" "$REDIS_LOG"
    fi
    wait_for "redis on $HOST:$REDIS_PORT" redis_ping ||
        die_log "redis: not answering PING on $HOST:$REDIS_PORT after ${TIMEOUT}s" "$REDIS_LOG"
}

redis_down() {
    redis_vars
    if redis_running; then
        local pid
        pid=$(read_pid "$REDIS_PIDFILE")
        log "redis: stopping"
        redis-cli -h $HOST -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        stop_wait redis "$pid"
    else
        log "redis: not running"
    fi
}

redis_status() { redis_running && redis_ping; }

# If service $1 (dir $2) is running on another port than $3, stop it so that it restarts.
restart_if_port_changed() {
    local svc=$1 home=$2 want=$3 have
    svc_running "$svc" || return 0
    have=$(cat "$home/.port" 2>/dev/null || true)
    if [ -n "$have" ] && [ "$have" != "$want" ]; then
        log "$svc: running on port $have but port $want is wanted; restarting it"
        case "$svc" in
        postgres) pg_down ;;
        mariadb) my_down ;;
        mariadb-replica) my_down mariadb-replica ;;
        redis) redis_down ;;
        kafka) kafka_down ;;
        esac
    fi
}

svc_running() {
    case "$1" in
    postgres) pg_running ;;
    mariadb) my_running ;;
    mariadb-replica) my_running mariadb-replica ;;
    redis) redis_running ;;
    kafka) kafka_running ;;
    esac
}

# wait for pid $2 to exit, then SIGKILL
stop_wait() {
    local name=$1 pid=$2 deadline=$((SECONDS + 20))
    while pid_alive "$pid"; do
        if [ $SECONDS -ge $deadline ]; then
            log "$name: did not stop in 20s, killing $pid"
            kill -9 "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
}

# -------------------------------------------------------------------- kafka (tansu)

tansu_bin() {
    local c
    c=$(command -v tansu 2>/dev/null || true)
    if [ -n "$c" ]; then
        echo "$c"
        return
    fi
    for c in "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" "$HOME/.cargo/bin/tansu"; do
        if [ -x "$c" ]; then
            echo "$c"
            return
        fi
    done
}

cargo_bin() {
    command -v cargo 2>/dev/null || {
        [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ] && echo "${CARGO_HOME:-$HOME/.cargo}/bin/cargo"
    } || true
}

# pid of a `cargo install tansu` already running on this machine (ours or anyone's)
tansu_install_pid() {
    local p
    for p in $(pgrep -x cargo 2>/dev/null || true); do
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qE '(^| )install .*tansu'; then
            echo "$p"
            return
        fi
    done
}

ensure_tansu() {
    [ -z "$(tansu_bin)" ] || return 0
    local home=$1 deadline=$((SECONDS + TANSU_INSTALL_TIMEOUT)) pid last=0
    local lock="/var/tmp/velocity-tansu-install.lock"
    [ -w /var/tmp ] || lock="$home/tansu-install.lock"
    exec 9>"$lock"
    flock 9
    pid=$(tansu_install_pid)
    if [ -n "$pid" ]; then
        log "kafka: tansu is missing, but a 'cargo install tansu' is already running (pid $pid); waiting for it"
        while pid_alive "$pid"; do
            [ $SECONDS -lt $deadline ] || die "kafka: timed out waiting for the running 'cargo install tansu' (pid $pid)"
            if [ $((SECONDS - last)) -ge 120 ]; then
                log "kafka: still waiting for 'cargo install tansu' (pid $pid)"
                last=$SECONDS
            fi
            sleep 5
        done
    fi
    if [ -z "$(tansu_bin)" ]; then
        local cargo
        cargo=$(cargo_bin)
        [ -n "$cargo" ] || die "kafka: tansu is not installed and cargo is not available to install it"
        local ilog="$home/tansu-install.log"
        log "kafka: installing tansu $TANSU_VERSION with cargo (features $TANSU_FEATURES; ~10 min on 2 cores); log: $ilog"
        # a kept target directory: an interrupted install (timeout, ^C)
        # resumes where it stopped instead of building everything again
        "$cargo" install tansu --version "$TANSU_VERSION" --locked --features "$TANSU_FEATURES" \
            --target-dir "$home/tansu-build" >"$ilog" 2>&1 &
        pid=$!
        while pid_alive "$pid"; do
            if [ $SECONDS -ge $deadline ]; then
                kill "$pid" 2>/dev/null || true
                die_log "kafka: 'cargo install tansu' did not finish in ${TANSU_INSTALL_TIMEOUT}s" "$ilog"
            fi
            if [ $((SECONDS - last)) -ge 60 ]; then
                log "kafka: building tansu... ($(grep -c Compiling "$ilog" 2>/dev/null || echo 0) crates compiled so far)"
                last=$SECONDS
            fi
            sleep 5
        done
        wait "$pid" || die_log "kafka: 'cargo install tansu' failed" "$ilog"
    fi
    flock -u 9
    exec 9>&-
    [ -n "$(tansu_bin)" ] || die "kafka: tansu still not found after install (looked on PATH and in ~/.cargo/bin)"
}

kafka_vars() {
    KAFKA_HOME=$(svc_dir kafka)
    KAFKA_PIDFILE="$KAFKA_HOME/tansu.pid"
    KAFKA_LOG="$KAFKA_HOME/tansu.log"
}

kafka_running() {
    kafka_vars
    local pid
    pid=$(read_pid "$KAFKA_PIDFILE")
    pid_alive "$pid" && grep -q 'tansu' "/proc/$pid/comm" 2>/dev/null
}

kafka_up() {
    KAFKA_HOME=$(make_svc_dir kafka)
    kafka_vars
    restart_if_port_changed kafka "$KAFKA_HOME" "$KAFKA_PORT"
    if kafka_running; then
        log "kafka: tansu already running (dir $KAFKA_HOME)"
    else
        if ! check_port_free kafka "$KAFKA_PORT"; then
            wait_for "kafka on $HOST:$KAFKA_PORT" port_open "$KAFKA_PORT" || die "kafka: shared instance not ready"
            return 0
        fi
        ensure_tansu "$KAFKA_HOME"
        local bin
        bin=$(tansu_bin)
        echo "$KAFKA_PORT" >"$KAFKA_HOME/.port"
        log "kafka: starting tansu on $HOST:$KAFKA_PORT (storage sqlite://tansu.db in $KAFKA_HOME)"
        # tansu resolves sqlite://NAME relative to its working directory, so it runs in $KAFKA_HOME.
        # env -i-ish: clear tansu's own env knobs so that stray CLUSTER_ID/STORAGE_ENGINE/... can't interfere
        (
            cd "$KAFKA_HOME"
            unset CLUSTER_ID LISTENER_URL ADVERTISED_LISTENER_URL STORAGE_ENGINE SCHEMA_REGISTRY \
                OTEL_EXPORTER_OTLP_ENDPOINT
            export RUST_LOG=${VELOCITY_TANSU_LOG:-warn}
            echo "---- $(date -Is) starting" >>"$KAFKA_LOG"
            rm -f "$KAFKA_PIDFILE"
            # bash -c writes its own pid, then execs tansu under that same pid
            setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" "$bin" broker \
                --cluster-id "$KAFKA_CLUSTER_ID" \
                --listener-url "tcp://$HOST:$KAFKA_PORT" \
                --advertised-listener-url "tcp://$HOST:$KAFKA_PORT" \
                --storage-engine "sqlite://tansu.db" \
                >>"$KAFKA_LOG" 2>&1 </dev/null &
        )
    fi
    local deadline=$((SECONDS + TIMEOUT))
    # give the wrapper a moment to write the pid file and exec tansu
    local i
    for i in $(seq 1 50); do
        kafka_running && break
        sleep 0.1
    done
    until port_open "$KAFKA_PORT"; do
        if ! kafka_running; then
            die_log "kafka: tansu exited during startup" "$KAFKA_LOG"
        fi
        if [ $SECONDS -ge $deadline ]; then
            die_log "kafka: tansu not accepting connections on $HOST:$KAFKA_PORT after ${TIMEOUT}s" "$KAFKA_LOG"
        fi
        sleep 0.3
    done
    log "kafka on $HOST:$KAFKA_PORT is accepting connections"
}

kafka_down() {
    kafka_vars
    if kafka_running; then
        local pid
        pid=$(read_pid "$KAFKA_PIDFILE")
        log "kafka: stopping tansu"
        kill "$pid" 2>/dev/null || true
        stop_wait kafka "$pid"
        rm -f "$KAFKA_PIDFILE"
    else
        log "kafka: not running"
    fi
}

kafka_status() { kafka_running && port_open "$KAFKA_PORT"; }

# ------------------------------------------------------------------------ commands

svc_addr() {
    case "$1" in
    postgres) echo "$HOST:$PG_PORT" ;;
    mariadb) echo "$HOST:$MARIADB_PORT" ;;
    mariadb-replica) echo "$HOST:$MARIADB_REPLICA_PORT" ;;
    redis) echo "$HOST:$REDIS_PORT" ;;
    kafka) echo "$HOST:$KAFKA_PORT" ;;
    esac
}

svc_creds() {
    case "$1" in
    postgres) echo "$PG_USER/$PG_PASSWORD (db $PG_DB, $PG_SINK_DB); $PG_SUPERUSER/$PG_SUPERUSER_PASSWORD" ;;
    mariadb) echo "$MARIADB_USER/$MARIADB_PASSWORD (db $MARIADB_DB, $MARIADB_SINK_DB); root via socket" ;;
    mariadb-replica) echo "as mariadb (replica of $HOST:$MARIADB_PORT, read-only); root via socket" ;;
    redis) echo "-" ;;
    kafka) echo "- (PLAINTEXT, cluster $KAFKA_CLUSTER_ID)" ;;
    esac
}

cmd_up() {
    local services
    mapfile -t services < <(selected_services)
    [ ${#services[@]} -gt 0 ] || die "VELOCITY_SERVICES selects no service"
    ensure_packages "${services[@]}"
    local s t0 start=$SECONDS
    for s in "${services[@]}"; do
        t0=$SECONDS
        case "$s" in
        postgres) pg_up ;;
        mariadb) my_up ;;
        mariadb-replica) rep_up ;;
        redis) redis_up ;;
        kafka) kafka_up ;;
        esac
        log "$s: ready ($((SECONDS - t0))s)"
    done
    log "all services ready in $((SECONDS - start))s"
    {
        printf '\n%-15s %-16s %-58s %s\n' SERVICE ADDRESS "USER/PASSWORD" "DATA DIR"
        for s in "${services[@]}"; do
            local dir other
            dir=$(svc_dir "$s")
            if [ -n "$(port_pid "$(svc_addr "$s" | cut -d: -f2)")" ] &&
                other=$(foreign_instance "$(svc_addr "$s" | cut -d: -f2)" "$s") && [ "$other" != "$dir" ]; then
                dir="$other (shared)"
            fi
            printf '%-15s %-16s %-58s %s\n' "$s" "$(svc_addr "$s")" "$(svc_creds "$s")" "$dir"
        done
        echo
        echo "Use them with:  envs=\$(scripts/services.sh env) && eval \"\$envs\""
    } >&2
}

cmd_down() {
    local services s rc=0
    mapfile -t services < <(selected_services)
    # stop in reverse order
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do
        s=${services[$i]}
        case "$s" in
        postgres) pg_down || rc=1 ;;
        mariadb) my_down || rc=1 ;;
        mariadb-replica) my_down mariadb-replica || rc=1 ;;
        redis) redis_down || rc=1 ;;
        kafka) kafka_down || rc=1 ;;
        esac
    done
    return $rc
}

svc_status() {
    case "$1" in
    postgres) pg_status ;;
    mariadb) my_status ;;
    mariadb-replica) rep_status ;;
    redis) redis_status ;;
    kafka) kafka_status ;;
    esac
}

cmd_status() {
    local services s rc=0 state detail
    mapfile -t services < <(selected_services)
    printf '%-15s %-6s %-16s %s\n' SERVICE STATE ADDRESS DETAIL
    for s in "${services[@]}"; do
        detail=$(svc_dir "$s")
        if svc_status "$s"; then
            state=up
        else
            local port other
            port=$(svc_addr "$s" | cut -d: -f2)
            if port_open "$port" && other=$(shared_instance "$port" "$s"); then
                state=up
                detail="shared from $other"
            elif svc_running "$s"; then
                state=down
                detail="$detail: running, but its check fails (see its log there)"
                rc=1
            elif port_open "$port"; then
                state=down
                detail="port $port is used by another program"
                rc=1
            else
                state=down
                rc=1
            fi
        fi
        printf '%-15s %-6s %-16s %s\n' "$s" "$state" "$(svc_addr "$s")" "$detail"
    done
    return $rc
}

q() { printf '%q' "$1"; }

# The directory of the instance of service $1 serving port $2: this
# checkout's, or another checkout's when it is shared.
serving_home() {
    local other
    if other=$(foreign_instance "$2" "$1"); then
        echo "$other"
    else
        svc_dir "$1"
    fi
}

# Prints `export $1=<root's unix socket>` of the MariaDB instance in
# directory $2 (nothing when it was never set up there).
my_env_socket() {
    local sock=""
    if [ -f "$2/my.cnf" ]; then
        sock=$(sed -n 's/^socket = //p' "$2/my.cnf" | head -n 1)
    fi
    if [ -n "$sock" ]; then
        echo "export $1=$(q "$sock")"
    fi
}

# Up (0) or not (1), counting an instance of another checkout that serves the port.
svc_up() {
    local port
    svc_status "$1" && return 0
    port=$(svc_addr "$1" | cut -d: -f2)
    port_open "$port" && shared_instance "$port" "$1" >/dev/null
}

# Bit of a service in the exit status of `env` and `status`-like checks.
svc_bit() {
    case "$1" in
    postgres) echo 1 ;;
    mariadb) echo 2 ;;
    redis) echo 4 ;;
    kafka) echo 8 ;;
    mariadb-replica) echo 16 ;;
    esac
}

# Prints the export lines of every selected service, always all of them: a
# service that is not running gets its configured address and credentials
# (what `up` would start). Each service not running is named on stderr, and
# the exit status is the sum of their bits (postgres 1, mariadb 2, redis 4,
# kafka 8, mariadb-replica 16): 0 when every selected service is up.
cmd_env() {
    local services s down=0 other
    mapfile -t services < <(selected_services)
    for s in "${services[@]}"; do
        if ! svc_up "$s"; then
            down=$((down + $(svc_bit "$s")))
            log "$s: not running on $(svc_addr "$s") (printing its defaults; start it with: VELOCITY_SERVICES=$s scripts/services.sh up)"
        fi
        case "$s" in
        postgres)
            echo "export VELOCITY_PG_HOST=$HOST"
            echo "export VELOCITY_PG_PORT=$(q "$PG_PORT")"
            echo "export VELOCITY_PG_USER=$PG_USER"
            echo "export VELOCITY_PG_PASSWORD=$PG_PASSWORD"
            echo "export VELOCITY_PG_DB=$PG_DB"
            echo "export VELOCITY_PG_SINK_DB=$PG_SINK_DB"
            echo "export VELOCITY_PG_SUPERUSER=$PG_SUPERUSER"
            echo "export VELOCITY_PG_SUPERUSER_PASSWORD=$PG_SUPERUSER_PASSWORD"
            echo "export VELOCITY_PG_URL=$(q "postgres://$PG_USER:$PG_PASSWORD@$HOST:$PG_PORT/$PG_DB")"
            # the self-signed certificate of the instance serving the port
            # (this checkout's or a shared one's), for verify-ca/verify-full
            local pg_home
            pg_home=$(serving_home postgres "$PG_PORT")
            if [ -f "$pg_home/data/server.crt" ]; then
                echo "export VELOCITY_PG_SSLROOTCERT=$(q "$pg_home/data/server.crt")"
            fi
            ;;
        mariadb)
            echo "export VELOCITY_MARIADB_HOST=$HOST"
            echo "export VELOCITY_MARIADB_PORT=$(q "$MARIADB_PORT")"
            echo "export VELOCITY_MARIADB_USER=$MARIADB_USER"
            echo "export VELOCITY_MARIADB_PASSWORD=$MARIADB_PASSWORD"
            echo "export VELOCITY_MARIADB_DB=$MARIADB_DB"
            echo "export VELOCITY_MARIADB_SINK_DB=$MARIADB_SINK_DB"
            echo "export VELOCITY_MARIADB_URL=$(q "mysql://$MARIADB_USER:$MARIADB_PASSWORD@$HOST:$MARIADB_PORT/$MARIADB_DB")"
            local my_home
            my_home=$(serving_home mariadb "$MARIADB_PORT")
            my_env_socket VELOCITY_MARIADB_SOCKET "$my_home"
            # the CA of the server's TLS certificate (none for an instance
            # started by an older version of this script)
            if [ -f "$my_home/tls/ca.crt" ]; then
                echo "export VELOCITY_MARIADB_SSLCA=$(q "$my_home/tls/ca.crt")"
            fi
            ;;
        mariadb-replica)
            # the same users and databases as the primary's (replicated)
            echo "export VELOCITY_MARIADB_REPLICA_HOST=$HOST"
            echo "export VELOCITY_MARIADB_REPLICA_PORT=$(q "$MARIADB_REPLICA_PORT")"
            my_env_socket VELOCITY_MARIADB_REPLICA_SOCKET \
                "$(serving_home mariadb-replica "$MARIADB_REPLICA_PORT")"
            ;;
        redis)
            echo "export VELOCITY_REDIS_URL=$(q "redis://$HOST:$REDIS_PORT")"
            ;;
        kafka)
            echo "export VELOCITY_KAFKA_BOOTSTRAP=$(q "$HOST:$KAFKA_PORT")"
            ;;
        esac
    done
    return $down
}

usage() {
    sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
-h | --help | help) usage ;;
*)
    [ -z "${1:-}" ] || echo "unknown command: $1" >&2
    usage
    ;;
esac
