#!/usr/bin/env bash
# bench/compare.sh — run the same XMPP load (bench/aldis-bench) against Aldis,
# Prosody and ejabberd, each started here with a private config on loopback
# ports, and print a table: per scenario each server's figure, per server
# CPU-second, and the ratios aldis/prosody and aldis/ejabberd.
#
# Knobs (environment), small by default so a full run takes a few minutes:
#   SERVERS="aldis prosody ejabberd"   which servers to run
#   SCENARIOS="idle login chat latency muc wslogin wschat"   (muclat: muc at
#                    a fixed rate; wslogin/wschat: login and chat over
#                    WebSocket, RFC 7395 — in the default list when Prosody
#                    has mod_websocket; wsidle/wslatency also exist)
#   USERS=500        idle sessions (and the user pool for login)
#   PAIRS=10         chat/latency session pairs
#   DURATION=5       measured seconds per scenario
#   WARMUP=1         uncounted seconds before each measurement
#   CONCURRENCY=10   login: connections at once
#   WINDOW=32        chat: messages in flight per sender
#   RATE=1000        latency: total messages per second
#   OCCUPANTS=1000   muc/muclat: sessions in the room
#   SENDERS=10       muc/muclat: occupants that send groupchat messages
#   MUC_WINDOW=2     muc: messages in flight per sender (until every copy arrived)
#   MUC_RATE=10      muclat: groupchat messages per second, all senders together
#                    (below the saturation of all three servers: Prosody 0.12
#                    delivers about 13,000 copies/s, i.e. 13 messages/s to 1000)
#   WS_TLS=0         1: the ws* scenarios over wss:// (the https ports)
#                    instead of plain ws:// on loopback
#   THREADS=1        client threads
#   BUILD=build      Aldis build directory (relative to the repository root)
#   KEEP=0           1: keep the temporary directory (configs, logs, JSON)
#   RESULTS=         also write the JSON results and the table to this directory
# Every server is started with one worker/scheduler thread ("W=1") and
# stopped by PID on exit, Ctrl-C included.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root" || exit 1

SERVERS=${SERVERS:-"aldis prosody ejabberd"}
# The WebSocket scenarios by default only where the Prosody to compare with
# has its WebSocket module (Debian's prosody package ships it).
ws_default=
if [ -f /usr/lib/prosody/modules/mod_websocket.lua ]; then ws_default=" wslogin wschat"; fi
SCENARIOS=${SCENARIOS:-"idle login chat latency muc$ws_default"}
USERS=${USERS:-500}
PAIRS=${PAIRS:-10}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONCURRENCY=${CONCURRENCY:-10}
WINDOW=${WINDOW:-32}
RATE=${RATE:-1000}
OCCUPANTS=${OCCUPANTS:-1000}
ALDIS_MODULES_LIST=${ALDIS_MODULES_LIST:-"roster, presence, message, offline, disco, ping, version, last, vcard, private, blocking, muc"}
SENDERS=${SENDERS:-10}
MUC_WINDOW=${MUC_WINDOW:-2}
MUC_RATE=${MUC_RATE:-10}
WS_TLS=${WS_TLS:-0}
THREADS=${THREADS:-1}
BUILD=${BUILD:-build}
KEEP=${KEEP:-0}
RESULTS=${RESULTS:-}
DOMAIN=localhost
PREFIX=bench
# Accounts to create: the muc scenarios need one per occupant.
NUSERS=$USERS
case " $SCENARIOS " in
*" muc "* | *" muclat "*) [ "$OCCUPANTS" -gt "$NUSERS" ] && NUSERS=$OCCUPANTS ;;
esac
# Any ws* scenario: every server also gets an HTTP (WS_TLS=1: HTTPS)
# listener with its WebSocket endpoint, on its own loopback port $wsport.
want_ws=0
case " $SCENARIOS " in *" ws"*) want_ws=1 ;; esac
ws_args=()
[ "$WS_TLS" = 1 ] && ws_args=(--tls)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aldis-compare.XXXXXX") || exit 1
pids=()      # every long-running process started here
bench_pid=

log() { echo "compare: $*" >&2; }

# stop_pid PID: TERM, then KILL after 5 s; forgets the PID (it may be reused).
stop_pid() {
    local pid=$1 i keep=()
    for i in "${pids[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
    pids=("${keep[@]}")
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local pid
    trap - EXIT INT TERM
    [ -n "$bench_pid" ] && stop_pid "$bench_pid"
    for pid in "${pids[@]}"; do
        stop_pid "$pid"
    done
    if [ "$KEEP" = 1 ]; then
        log "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID SECONDS: until PORT accepts on loopback, PID still alive.
wait_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + $3))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# ---- the load generator: the CMake-built one, or compiled here if the
# project does not build yet (it needs only OpenSSL and expat).
find_bench() {
    if [ -x "$BUILD/bench/aldis-bench" ]; then
        bench="$BUILD/bench/aldis-bench"
        return 0
    fi
    log "no $BUILD/bench/aldis-bench: compiling bench/*.c"
    bench="$tmp/aldis-bench"
    local flags
    read -r -a flags <<<"$(pkg-config --cflags --libs openssl expat libwebsockets)"
    cc -std=c17 -O2 -D_GNU_SOURCE -o "$bench" bench/aldis-bench.c bench/conn.c bench/scram.c \
        bench/ws.c "${flags[@]}" -lpthread
}

# run_bench NAME SERVER_PID [LABEL:]SCENARIO ARGS...: one scenario, JSON into
# $tmp/results/NAME-LABEL.json (LABEL defaults to SCENARIO). In the
# background so Ctrl-C stops at once.
run_bench() {
    local name=$1 spid=$2 scen=${3%%:*} bscen=${3#*:}
    shift 3
    local out="$tmp/results/$name-$scen.json"
    "$bench" "$bscen" --host 127.0.0.1 --port "$port" --domain "$DOMAIN" \
        --user-prefix "$PREFIX" --threads "$THREADS" --server-pid "$spid" --json "$@" \
        >"$out" 2>"$tmp/results/$name-$scen.err" &
    bench_pid=$!
    wait "$bench_pid"
    local rc=$?
    bench_pid=
    if [ $rc -ne 0 ]; then
        log "$name $scen: exit $rc: $(tail -n 2 "$tmp/results/$name-$scen.err" | tr '\n' ' ')"
    fi
    return $rc
}

# One certificate for every server (ECDSA P-256, what aldisctl init makes),
# so the TLS handshakes cost the same signature everywhere.
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
        -subj "/CN=$DOMAIN" \
        -addext "subjectAltName=DNS:$DOMAIN" \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
}

# ---- servers. start_NAME sets server_pid and port, or returns 1 with a reason.

start_prosody() {
    local d="$tmp/prosody"
    command -v prosody >/dev/null || { why="prosody not installed"; return 1; }
    mkdir -p "$d/data"
    port=$(free_port)
    # WebSocket (mod_websocket, on mod_http): plain HTTP on loopback counts
    # as secure (consider_websocket_secure), as Aldis's trust_loopback does,
    # so c2s_require_encryption lets the logins through; with WS_TLS=1 the
    # HTTPS port with the shared certificate instead.
    local ws_cfg="" ws_mod=""
    if [ "$want_ws" = 1 ]; then
        wsport=$(free_port)
        ws_mod=', "websocket"'
        if [ "$WS_TLS" = 1 ]; then
            ws_cfg="http_ports = { }
https_ports = { $wsport }
https_interfaces = { \"127.0.0.1\" }
https_ssl = { key = \"$tmp/key.pem\"; certificate = \"$tmp/cert.pem\" }"
        else
            ws_cfg="http_ports = { $wsport }
http_interfaces = { \"127.0.0.1\" }
https_ports = { }
consider_websocket_secure = true"
        fi
    fi
    # Stock modules minus s2s/HTTP/limits; the epoll backend; accounts hashed
    # (SCRAM), as Aldis stores them. run_as_root: we are root in CI only.
    cat >"$d/prosody.cfg.lua" <<EOF
run_as_root = true
daemonize = false
pidfile = "$d/prosody.pid"
data_path = "$d/data"
log = { warn = "$d/prosody.log" }
network_backend = "epoll"
network_settings = { nagle = false }
interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_require_encryption = true
authentication = "internal_hashed"
allow_registration = true
modules_enabled = { "disco", "roster", "saslauth", "tls", "register", "ping"$ws_mod }
modules_disabled = { "s2s" }
$ws_cfg
certificates = "$d"
ssl = { key = "$tmp/key.pem"; certificate = "$tmp/cert.pem" }
VirtualHost "$DOMAIN"
-- XEP-0045 with the stock settings: any local user may create a room, a
-- new room is locked until its owner accepts a configuration (muc_room_locking),
-- and Prosody 0.12 has no limit on occupants per room.
Component "conference.$DOMAIN" "muc"
EOF
    launch_prosody || return 1
    users_register prosody || { why="in-band registration failed"; return 1; }
}

launch_prosody() {
    local d="$tmp/prosody"
    prosody --config "$d/prosody.cfg.lua" -F >>"$d/stdout.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    wait_port "$port" "$server_pid" 30 || { why="prosody did not start (see $d)"; return 1; }
}

start_ejabberd() {
    local d="$tmp/ejabberd"
    [ -d /usr/lib/ejabberd ] || ls /usr/lib/x86_64-linux-gnu/ejabberd-* >/dev/null 2>&1 ||
        { why="ejabberd not installed"; return 1; }
    mkdir -p "$d/spool" "$d/logs"
    port=$(free_port)
    local muc_max=$((OCCUPANTS > 1000 ? OCCUPANTS : 1000))
    # WebSocket: ejabberd_http with the ejabberd_http_ws handler on its own
    # port (TLS with the shared certificate when WS_TLS=1).
    local ws_listen=""
    if [ "$want_ws" = 1 ]; then
        wsport=$(free_port)
        local ws_tls=false
        [ "$WS_TLS" = 1 ] && ws_tls=true
        ws_listen="  -
    port: $wsport
    ip: \"127.0.0.1\"
    module: ejabberd_http
    tls: $ws_tls
    backlog: 1024
    request_handlers:
      /xmpp-websocket: ejabberd_http_ws"
    fi
    cat "$tmp/key.pem" "$tmp/cert.pem" >"$d/ejabberd.pem"
    # No shaper (the stock config limits c2s to 3000 B/s), SCRAM-SHA-256
    # hashed passwords, open in-band registration for the benchmark users.
    cat >"$d/ejabberd.yml" <<EOF
loglevel: warning
hosts:
  - "$DOMAIN"
certfiles:
  - "$d/ejabberd.pem"
listen:
  -
    port: $port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls_required: true
$ws_listen
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha256
registration_timeout: infinity
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
  register:
    allow: all
shaper_rules:
  max_user_sessions: 10
  c2s_shaper: none
modules:
  mod_disco: {}
  mod_roster: {}
  mod_ping: {}
  mod_offline: {}
  mod_register:
    ip_access: all
    access: register
  # XEP-0045. The default max_users is 200, for the service and for a new
  # room's configuration alike; above max_users_presence (default 1000)
  # occupants a room stops broadcasting presence. All three are raised to
  # the benchmark's room size so every server does the same work.
  mod_muc:
    host: "conference.@HOST@"
    access: all
    access_create: all
    max_users: $muc_max
    max_users_presence: $muc_max
    default_room_options:
      max_users: $muc_max
EOF
    launch_ejabberd || return 1
    users_register ejabberd || { why="in-band registration failed"; return 1; }
}

launch_ejabberd() {
    local d="$tmp/ejabberd"
    # What ejabberdctl foreground runs, minus the switch to the ejabberd user
    # and minus distribution (no node name: no epmd, no open Erlang port).
    # +S 1:1: one scheduler, the W=1 equivalent. +sbwt none: schedulers
    # sleep instead of spinning, so CPU time is work done, not busy-waiting.
    (
        cd "$d" || exit 1
        export EJABBERD_CONFIG_PATH="$d/ejabberd.yml" EJABBERD_LOG_PATH="$d/logs/ejabberd.log"
        export ERL_LIBS=/usr/lib/x86_64-linux-gnu ERL_CRASH_DUMP="$d/logs/erl_crash.dump"
        export ERL_CRASH_DUMP_BYTES=0 ERL_MAX_PORTS=32000
        exec erl +K true +P 250000 +S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none \
            -noinput -noshell -mnesia dir "\"$d/spool\"" -s ejabberd
    ) >>"$d/stdout.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    wait_port "$port" "$server_pid" 60 || { why="ejabberd did not start (see $d)"; return 1; }
}

start_aldis() {
    local d="$tmp/aldis" ctl="$BUILD/aldisctl" srv="$BUILD/aldis" i
    if [ ! -x "$srv" ] || [ ! -x "$ctl" ]; then
        why="not built ($BUILD/aldis, $BUILD/aldisctl)"
        return 1
    fi
    port=$(free_port)
    local init_help
    init_help=$("$ctl" init --help 2>&1)
    local extra=()
    if grep -q -- '--workers' <<<"$init_help"; then extra+=(--workers 1); fi
    # Only the c2s listener, like the other two (0 disables a listener), so
    # no fixed port can clash with another server on this machine; and for
    # the ws* scenarios the http (WS_TLS=1: https) listener on its own port.
    local opt ws_opt=--http-port
    [ "$WS_TLS" = 1 ] && ws_opt=--https-port
    for opt in --c2s-tls-port --s2s-port --http-port --https-port --component-port; do
        if [ "$want_ws" = 1 ] && [ "$opt" = "$ws_opt" ]; then
            wsport=$(free_port)
            extra+=("$opt" "$wsport")
        elif grep -q -- "$opt" <<<"$init_help"; then
            extra+=("$opt" 0)
        fi
    done
    "$ctl" init --dir "$d" --domain "$DOMAIN" --c2s-port "$port" "${extra[@]}" \
        >"$tmp/aldis-init.log" 2>&1 || { why="aldisctl init failed: $(tail -n 1 "$tmp/aldis-init.log")"; return 1; }
    local cfg="$d/aldis.yaml"
    [ -f "$cfg" ] || { why="aldisctl init wrote no $cfg"; return 1; }
    # The shared certificate in place of the one init made.
    if [ -f "$d/$DOMAIN.crt" ] && [ -f "$d/$DOMAIN.key" ]; then
        cp "$tmp/cert.pem" "$d/$DOMAIN.crt" && cp "$tmp/key.pem" "$d/$DOMAIN.key"
    fi
    # W=1: one worker thread, like one Prosody process and one BEAM scheduler.
    if grep -qE '^(# *)?workers:' "$cfg"; then
        sed -i -E '0,/^(# *)?workers:/s/^(# *)?workers:.*/workers: 1/' "$cfg"
    elif ! grep -q -- '--workers' <<<"$init_help"; then
        printf '\nworkers: 1\n' >>"$cfg"
    fi
    # The same features as the Prosody and ejabberd configurations above:
    # no archive, carbons, CSI, PEP or stream management, which the others do
    # not run either (every message archived twice costs two inserts).
    # ALDIS_MODULES=all measures the full default set instead.
    if [ "${ALDIS_MODULES:-same}" != all ]; then
        sed -i -E "0,/^    key: .*/s//&\n    modules: [${ALDIS_MODULES_LIST}]/" "$cfg"
    fi
    # Plain ws:// from loopback counts as encrypted (http.trust_loopback, on
    # by default), like Prosody's consider_websocket_secure above. The cap of
    # 64 HTTP connections per address and worker is for the Internet, not
    # for a load generator on loopback.
    if [ "$want_ws" = 1 ]; then
        printf '\nhttp:\n  max_connections_per_ip: 100000\n' >>"$cfg"
    fi
    # Aldis's muc caps a room at max_occupants (default 1000) whatever the
    # room's maxusers says; raise it when the benchmark room is bigger.
    if [ "$OCCUPANTS" -gt 1000 ] && ! grep -q '^modules:' "$cfg"; then
        printf '\nmodules:\n  muc:\n    max_occupants: %d\n' "$OCCUPANTS" >>"$cfg"
    fi
    for i in $(seq 1 "$NUSERS"); do
        "$ctl" --config "$cfg" user add "$PREFIX$i@$DOMAIN" "$PREFIX$i" >>"$tmp/aldis-users.log" 2>&1 ||
            { why="aldisctl user add failed: $(tail -n 1 "$tmp/aldis-users.log")"; return 1; }
    done
    aldis_cfg=$cfg
    launch_aldis || return 1
    # A login proves the accounts and TLS work before the measurements.
    run_bench aldis-check "$server_pid" login --users 1 --concurrency 1 --duration 0.5 --warmup 0 \
        >/dev/null || { why="test login failed: $(tail -n 1 "$tmp/results/aldis-check-login.err")"; return 1; }
}

launch_aldis() {
    local d="$tmp/aldis"
    "$BUILD/aldis" --config "$aldis_cfg" >>"$d/stdout.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    wait_port "$port" "$server_pid" 30 || { why="aldis did not start: $(tail -n 1 "$d/stdout.log")"; return 1; }
}

users_register() {
    run_bench "$1" "$server_pid" register --users "$NUSERS" --concurrency 20 --duration 300
}

run_scenarios() {
    local name=$1 scen first=1
    for scen in $SCENARIOS; do
        # Each scenario gets a freshly started server (same data directory
        # and accounts), so no scenario inherits another's heap or caches.
        if [ $first = 0 ]; then
            stop_pid "$server_pid"
            if ! "launch_$name"; then
                log "$name: restart failed ($why)"
                return 1
            fi
        fi
        first=0
        log "$name: $scen"
        case $scen in
        idle)
            run_bench "$name" "$server_pid" idle --users "$USERS" --concurrency 50 \
                --duration 2 --setup-timeout 120
            ;;
        login)
            run_bench "$name" "$server_pid" login --users "$USERS" --concurrency "$CONCURRENCY" \
                --duration "$DURATION" --warmup "$WARMUP"
            ;;
        chat)
            run_bench "$name" "$server_pid" chat --users $((2 * PAIRS)) --pairs "$PAIRS" \
                --window "$WINDOW" --duration "$DURATION" --warmup "$WARMUP"
            ;;
        latency)
            run_bench "$name" "$server_pid" latency --users $((2 * PAIRS)) --pairs "$PAIRS" \
                --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP"
            ;;
        muc)
            # OCCUPANTS sessions enter one room (the O(N^2) presence
            # exchange is setup, not measured), then SENDERS of them send
            # groupchat messages at saturation.
            run_bench "$name" "$server_pid" muc --occupants "$OCCUPANTS" --senders "$SENDERS" \
                --window "$MUC_WINDOW" --concurrency 50 --setup-timeout 300 \
                --duration "$DURATION" --warmup "$WARMUP"
            ;;
        muclat)
            run_bench "$name" "$server_pid" muclat:muc --occupants "$OCCUPANTS" --senders "$SENDERS" \
                --window "$MUC_WINDOW" --rate "$MUC_RATE" --concurrency 50 --setup-timeout 300 \
                --duration "$DURATION" --warmup "$WARMUP"
            ;;
        # The same scenarios over WebSocket (RFC 7395): the same options,
        # the server's HTTP(S) port instead of its c2s port.
        wslogin)
            run_bench "$name" "$server_pid" wslogin --port "$wsport" "${ws_args[@]}" \
                --users "$USERS" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP"
            ;;
        wschat)
            run_bench "$name" "$server_pid" wschat --port "$wsport" "${ws_args[@]}" \
                --users $((2 * PAIRS)) --pairs "$PAIRS" --window "$WINDOW" \
                --duration "$DURATION" --warmup "$WARMUP"
            ;;
        wsidle)
            run_bench "$name" "$server_pid" wsidle --port "$wsport" "${ws_args[@]}" \
                --users "$USERS" --concurrency 50 --duration 2 --setup-timeout 120
            ;;
        wslatency)
            run_bench "$name" "$server_pid" wslatency --port "$wsport" "${ws_args[@]}" \
                --users $((2 * PAIRS)) --pairs "$PAIRS" --rate "$RATE" \
                --duration "$DURATION" --warmup "$WARMUP"
            ;;
        *) log "unknown scenario $scen" ;;
        esac
    done
}

# ---- main

command -v python3 >/dev/null || { log "python3 is needed for the report"; exit 1; }
if ! dpkg -s prosody ejabberd >/dev/null 2>&1; then
    log "note: Debian packages prosody and ejabberd are not both installed"
fi
find_bench || { log "cannot build the load generator"; exit 1; }
make_cert || { log "openssl req failed"; exit 1; }
mkdir -p "$tmp/results"
: >"$tmp/results/status"

for name in $SERVERS; do
    server_pid=
    port=
    wsport=
    why=
    log "starting $name"
    if "start_$name"; then
        echo "$name ok" >>"$tmp/results/status"
        run_scenarios "$name"
    else
        log "$name: not available ($why)"
        echo "$name not available: $why" >>"$tmp/results/status"
    fi
    [ -n "$server_pid" ] && stop_pid "$server_pid"
done

python3 "$here/report.py" "$tmp/results" \
    "users=$USERS pairs=$PAIRS duration=${DURATION}s concurrency=$CONCURRENCY window=$WINDOW rate=$RATE/s threads=$THREADS occupants=$OCCUPANTS senders=$SENDERS muc_window=$MUC_WINDOW muc_rate=$MUC_RATE/s$([ "$want_ws" = 1 ] && { [ "$WS_TLS" = 1 ] && echo " ws=wss" || echo " ws=ws"; })" |
    tee "$tmp/results/table.md"
if [ -n "$RESULTS" ]; then
    mkdir -p "$RESULTS" && cp "$tmp"/results/* "$RESULTS"/ && log "results in $RESULTS"
fi
