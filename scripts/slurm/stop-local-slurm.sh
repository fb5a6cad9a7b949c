#!/usr/bin/env bash
# Stop the single-node SLURM started by start-local-slurm.sh (slurmd,
# slurmctld, slurmdbd, mariadbd, then munged), using the pid files in the
# state directory.
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

stop_pidfile slurmd "$STATE_DIR/run/slurmd.pid"
stop_pidfile slurmctld "$STATE_DIR/run/slurmctld.pid"
stop_pidfile slurmdbd "$STATE_DIR/run/slurmdbd.pid"
stop_pidfile mariadbd "$STATE_DIR/run/mariadbd.pid"
stop_pidfile munged "$STATE_DIR/munge/munged.pid"
