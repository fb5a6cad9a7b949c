#!/usr/bin/env bash
# Stop the single-node SLURM started by start-local-slurm.sh (slurmd,
# slurmctld, slurmdbd, mariadbd, then munged), using the pid files in the
# state directory.
#
# Usage: stop-local-slurm.sh [DAEMON ...]
#   DAEMON: slurmd, slurmctld, slurmdbd, mariadbd, munged (default: all of them); test.sh
#   names only the daemons it started, so a SLURM that was already running stays up.
# Idempotent: missing/stale pid files are fine.  State (job records, munge
# key, slurm.conf, logs) is kept; remove $NIPYPE_CARBON_SLURM_DIR to wipe it.
set -euo pipefail

STATE_DIR="${NIPYPE_CARBON_SLURM_DIR:-/tmp/nipype-carbon-slurm}"

log() { echo "[stop-local-slurm] $*" >&2; }

stop_pidfile() {
    local name="$1" pidfile="$2" pid
    if [[ ! -s "$pidfile" ]]; then
        log "$name: no pid file"
        return 0
    fi
    pid="$(tr -dc '0-9' <"$pidfile")"
    if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
        log "$name: not running"
        rm -f "$pidfile"
        return 0
    fi
    log "$name: stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: still alive after 10s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# In dependency order: the node daemon first, munged (everyone's authentication) last.
ORDER=(slurmd slurmctld slurmdbd mariadbd munged)
declare -A PIDFILE_OF=(
    [slurmd]="$STATE_DIR/run/slurmd.pid" [slurmctld]="$STATE_DIR/run/slurmctld.pid"
    [slurmdbd]="$STATE_DIR/run/slurmdbd.pid" [mariadbd]="$STATE_DIR/run/mariadbd.pid"
    [munged]="$STATE_DIR/munge/munged.pid"
)
WANTED=("$@")
[[ $# -gt 0 ]] || WANTED=("${ORDER[@]}")
for name in "${WANTED[@]}"; do
    [[ -n "${PIDFILE_OF[$name]:-}" ]] || {
        log "unknown daemon '$name' (use: ${ORDER[*]})"
        exit 2
    }
done
for name in "${ORDER[@]}"; do
    [[ " ${WANTED[*]} " == *" $name "* ]] && stop_pidfile "$name" "${PIDFILE_OF[$name]}"
done
exit 0
