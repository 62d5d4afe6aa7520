# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# shellcheck disable=SC2174  # `mkdir -p -m`: the mode is meant for the named folder only
# Shared helpers for scripts/*. Source it; do not execute it.
#
# Everything is derived from this file's own location, so the scripts work from any
# working directory and in any clone. Nothing here writes outside the repository except
# the PostgreSQL fallback folder described at lookout_pg_base_dir.

if [[ -n "${LOOKOUT_LIB_LOADED:-}" ]]; then
    return 0
fi
LOOKOUT_LIB_LOADED=1

LOOKOUT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
LOOKOUT_LOCAL="$LOOKOUT_ROOT/.local"  # git-ignored
LOOKOUT_RUN="$LOOKOUT_LOCAL/run"      # PID files, lock, logs of helper processes
# Below 32768: ports in the kernel's ephemeral range (32768-60999) can be taken at random by
# outgoing connections, and the tests make thousands of them.
LOOKOUT_PG_PORT="${LOOKOUT_PG_PORT:-25432}"
LOOKOUT_REDIS_PORT="${LOOKOUT_REDIS_PORT:-26379}"
LOOKOUT_LOG_TAG="${LOOKOUT_LOG_TAG:-$(basename "$0")}"

lookout_log() { printf '[%s] %s\n' "$LOOKOUT_LOG_TAG" "$*" >&2; }
lookout_die() { printf '[%s] error: %s\n' "$LOOKOUT_LOG_TAG" "$*" >&2; exit 1; }

# CI is "set" when it is non-empty and not an explicit false.
lookout_is_ci() {
    case "${CI:-}" in
        "" | 0 | false | False | FALSE | no) return 1 ;;
        *) return 0 ;;
    esac
}

lookout_warn_loud() {
    {
        printf '\n'
        printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
        printf '!!  WARNING: %s\n' "$1"
        shift
        (($#)) && printf '!!           %s\n' "$@"
        printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
        printf '\n'
    } >&2
}

lookout_check_port_number() {
    if ! [[ "$1" =~ ^[0-9]+$ ]] || (("$1" < 1 || "$1" > 65535)); then
        lookout_die "invalid port: '$1'"
    fi
}

# True when something listens on TCP 127.0.0.1:PORT (or on a wildcard address and that port).
lookout_tcp_port_busy() {
    ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q .
}

lookout_udp_port_busy() {
    ss -Hlun "( sport = :$1 )" 2>/dev/null | grep -q .
}

# True when PID is alive (not a zombie) and its command name is NAME (guards against recycled
# PIDs).
lookout_pid_is() {
    local pid="$1" name="$2" stat comm
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    read -r stat comm < <(ps -o stat=,comm= -p "$pid" 2>/dev/null) || return 1
    [[ "$stat" != Z* && "$comm" == "$name"* ]]
}

# Send SIGTERM to PID, wait up to SECONDS (default 10) for it to go, then SIGKILL.
lookout_kill_pid() {
    local pid="$1" wait_s="${2:-10}" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < wait_s * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    lookout_log "PID $pid did not stop after ${wait_s}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

lookout_pg_bin_dir() {
    local dir
    # shellcheck disable=SC2012
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [[ -n "$dir" && -x "$dir/postgres" ]] || return 1
    printf '%s\n' "$dir"
}

lookout_is_root() { [[ "$(id -u)" == 0 ]]; }

# Run a command as the PostgreSQL owner: `postgres` when we are root (the server refuses to run
# as root), otherwise the current user. Runs from / so the postgres user never trips over a
# working directory it cannot enter.
lookout_as_pg() {
    if lookout_is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# The folder that holds the PostgreSQL data (data/), its log and nothing else.
# Normally .local/pg inside the repository. When running as root, the `postgres` user must be
# able to traverse every parent of that folder; when it cannot (e.g. a checkout under a 0700 home
# directory), fall back to /tmp/lookout-<first 12 hex of sha256(repo path)>/pg. The fallback is
# per checkout, is not removed by `scripts/services stop` (use `scripts/services clean`), and
# does not survive a reboot that clears /tmp.
lookout_pg_base_dir() {
    mkdir -p -m 0755 "$LOOKOUT_LOCAL"
    if ! lookout_is_root || runuser -u postgres -- test -x "$LOOKOUT_LOCAL" 2>/dev/null; then
        printf '%s\n' "$LOOKOUT_LOCAL/pg"
    else
        local hash
        hash="$(printf '%s' "$LOOKOUT_ROOT" | sha256sum | cut -c1-12)"
        printf '%s\n' "/tmp/lookout-$hash/pg"
    fi
}
