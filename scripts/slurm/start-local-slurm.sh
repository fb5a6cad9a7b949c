#!/usr/bin/env bash
# Start a real, single-node SLURM cluster on localhost (for tests / CI).
#
# Idempotent: safe to run repeatedly.  What it does:
#   1. installs Debian's `slurm-wlm` and `munge` if their commands are missing
#      (runs `apt-get update` only when apt does not know the packages, or once
#      more if the install fails on stale lists);
#   2. writes $STATE_DIR/slurm.conf (node CPUs/memory taken from `slurmd -C`);
#   3. creates a private munge key in $STATE_DIR/munge if absent and starts a
#      private munged on its own socket (does not touch /etc/munge or any
#      system-wide munged);
#   4. optionally (NIPYPE_CARBON_SLURM_ACCOUNTING=1) starts a private MariaDB
#      and slurmdbd so that `sacct` works -- Pydra's slurm worker needs it;
#   5. starts slurmctld and slurmd (pid files under $STATE_DIR/run);
#   6. waits until `sinfo` reports the node usable (idle, or mixed/allocated
#      when jobs recovered from the saved state are running);
#   7. prints `export SLURM_CONF=...` on stdout (all other messages go to
#      stderr), so `eval "$(scripts/slurm/start-local-slurm.sh)"` works.
#
# Job/controller state (StateSaveLocation) lives in $STATE_DIR/state and is
# reused across stop/start, so job ids keep increasing and queued jobs survive
# a restart.  Remove $STATE_DIR (after stop-local-slurm.sh) to start afresh.
#
# Environment:
#   NIPYPE_CARBON_SLURM_DIR        state directory (default /tmp/nipype-carbon-slurm)
#   NIPYPE_CARBON_SLURM_TIMEOUT    seconds to wait for the node (default 60)
#   NIPYPE_CARBON_SLURM_ACCOUNTING 1: slurmdbd+MariaDB (sacct works), 0: none,
#                                  auto (default): keep what the existing
#                                  slurm.conf in $STATE_DIR uses (0 if none)
#   NIPYPE_CARBON_SLURMCTLD_PORT   slurmctld port (default 6817)
#   NIPYPE_CARBON_SLURMD_PORT      slurmd port (default 6818)
#   NIPYPE_CARBON_SLURMDBD_PORT    slurmdbd port (default 6819)
#   NIPYPE_CARBON_SLURM_DB_PORT    MariaDB port on 127.0.0.1 (default 3317)
#
# Must run as root (SlurmUser=root, slurmd runs jobs as the submitting user).
set -euo pipefail

STATE_DIR="${NIPYPE_CARBON_SLURM_DIR:-/tmp/nipype-carbon-slurm}"
TIMEOUT="${NIPYPE_CARBON_SLURM_TIMEOUT:-60}"
ACCOUNTING="${NIPYPE_CARBON_SLURM_ACCOUNTING:-auto}"
CTLD_PORT="${NIPYPE_CARBON_SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${NIPYPE_CARBON_SLURMD_PORT:-6818}"
DBD_PORT="${NIPYPE_CARBON_SLURMDBD_PORT:-6819}"
DB_PORT="${NIPYPE_CARBON_SLURM_DB_PORT:-3317}"
NODE_NAME=localhost
CLUSTER=nipypecarbon

CONF="$STATE_DIR/slurm.conf"
DBD_CONF="$STATE_DIR/slurmdbd.conf" # slurmdbd reads it from slurm.conf's dir
MUNGE_DIR="$STATE_DIR/munge"
MUNGE_KEY="$MUNGE_DIR/munge.key"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
MUNGE_PID="$MUNGE_DIR/munged.pid"
MUNGE_LOG="$MUNGE_DIR/munged.log"
DB_DIR="$STATE_DIR/mariadb"
DB_SOCKET="$DB_DIR/mysqld.sock"
RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/log"
CTLD_PID="$RUN_DIR/slurmctld.pid"
SLURMD_PID="$RUN_DIR/slurmd.pid"
DBD_PID="$RUN_DIR/slurmdbd.pid"
DB_PID="$RUN_DIR/mariadbd.pid"
CTLD_LOG="$LOG_DIR/slurmctld.log"
SLURMD_LOG="$LOG_DIR/slurmd.log"
DBD_LOG="$LOG_DIR/slurmdbd.log"
DB_LOG="$LOG_DIR/mariadbd.log"

log() { echo "[start-local-slurm] $*" >&2; }

show_logs() {
    local f logs=("$MUNGE_LOG")
    [[ "$ACCOUNTING" == 1 ]] && logs+=("$DB_LOG" "$DBD_LOG")
    logs+=("$CTLD_LOG" "$SLURMD_LOG")
    for f in "${logs[@]}"; do
        echo "----- tail -n 30 $f -----" >&2
        if [[ -f "$f" ]]; then tail -n 30 "$f" >&2; else echo "(missing)" >&2; fi
    done
}

die() {
    echo "[start-local-slurm] ERROR: $*" >&2
    exit 1
}

die_logs() {
    echo "[start-local-slurm] ERROR: $*" >&2
    show_logs
    exit 1
}

# pid_alive PIDFILE -> 0 if the pid in PIDFILE is a running process
pid_alive() {
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(tr -dc '0-9' <"$1")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# stop_pid NAME PIDFILE: TERM, wait up to 10 s, KILL.
stop_pid() {
    local pid
    pid_alive "$2" || return 0
    pid="$(tr -dc '0-9' <"$2")"
    log "stopping $1 (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$2"
}

# write_if_changed PATH MODE CONTENT -> 0 if the file was (re)written
write_if_changed() {
    if [[ -f "$1" ]] && [[ "$(cat "$1")" == "$3" ]]; then
        chmod "$2" "$1"
        return 1
    fi
    (umask 077 && printf '%s\n' "$3" >"$1.tmp")
    chmod "$2" "$1.tmp"
    mv -f "$1.tmp" "$1"
    log "wrote $1"
}

if [[ "$ACCOUNTING" == auto ]]; then
    if [[ -f "$CONF" ]] && grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$CONF"; then
        ACCOUNTING=1
    else
        ACCOUNTING=0
    fi
fi
[[ "$ACCOUNTING" == 0 || "$ACCOUNTING" == 1 ]] ||
    die "NIPYPE_CARBON_SLURM_ACCOUNTING must be 0, 1 or auto (got '$ACCOUNTING')"

# ---------------------------------------------------------------- install ---
PKGS=(slurm-wlm munge)
CMDS=(munged munge unmunge slurmctld slurmd sbatch srun sinfo squeue scontrol)
if [[ "$ACCOUNTING" == 1 ]]; then
    PKGS+=(slurmdbd mariadb-server)
    CMDS+=(slurmdbd sacct sacctmgr mariadbd mariadb mariadb-install-db)
fi

need_install() {
    local c
    for c in "${CMDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || return 0
    done
    return 1
}

if need_install; then
    [[ "$(id -u)" -eq 0 ]] || die "${PKGS[*]} not installed and this is not root; run as root (or: apt-get install ${PKGS[*]})"
    command -v apt-get >/dev/null 2>&1 || die "${PKGS[*]} missing and apt-get not available"
    export DEBIAN_FRONTEND=noninteractive
    # Only refresh package lists when apt does not know the packages yet.
    if ! apt-cache show "${PKGS[@]}" >/dev/null 2>&1; then
        log "apt-get update (package lists do not know ${PKGS[*]})"
        apt-get update -qq >&2
    fi
    log "installing ${PKGS[*]}"
    if ! apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >&2; then
        # Stale lists (404 on a superseded .deb): refresh once and retry.
        log "install failed; apt-get update and retry"
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >&2
    fi
    need_install && die "commands still missing after apt-get install ${PKGS[*]}"
fi

[[ "$(id -u)" -eq 0 ]] || die "must run as root to start slurmctld/slurmd (SlurmUser=root)"

mkdir -p "$STATE_DIR" "$MUNGE_DIR" "$RUN_DIR" "$LOG_DIR" "$STATE_DIR/state" "$STATE_DIR/spool/slurmd"
chmod 0755 "$STATE_DIR"
# Clients of any user need the socket; only the key itself is private.
chmod 0755 "$MUNGE_DIR"

# ------------------------------------------------------------------ munge ---
if [[ ! -s "$MUNGE_KEY" ]]; then
    log "creating munge key $MUNGE_KEY"
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile="$MUNGE_KEY" --force
    else
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
    fi
fi
chmod 0400 "$MUNGE_KEY"

if pid_alive "$MUNGE_PID" && [[ -S "$MUNGE_SOCKET" ]]; then
    log "munged already running (pid $(cat "$MUNGE_PID"))"
else
    log "starting munged"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock" "$MUNGE_PID"
    # --force: only warn (not abort) on insecure-permission checks of the
    # socket/log/key ancestors, which vary between CI images.
    munged --force \
        --socket="$MUNGE_SOCKET" \
        --key-file="$MUNGE_KEY" \
        --pid-file="$MUNGE_PID" \
        --log-file="$MUNGE_LOG" \
        --seed-file="$MUNGE_DIR/munged.seed" ||
        die_logs "munged failed to start"
fi
for _ in $(seq 1 50); do
    [[ -S "$MUNGE_SOCKET" ]] && break
    sleep 0.1
done
munge -S "$MUNGE_SOCKET" -n </dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null ||
    die_logs "munge round trip failed on $MUNGE_SOCKET"

# ------------------------------------------------------------- slurm.conf ---
# Hardware line as slurmd detects it, renamed to our node name, so that the
# registered node never mismatches the config (RealMemory too high -> node
# drained "Low RealMemory").
hw="$(slurmd -C 2>/dev/null | head -n 1)"
[[ "$hw" == NodeName=* ]] || die "could not parse 'slurmd -C' output: $hw"
hw="$(sed -E "s/^NodeName=[^ ]+/NodeName=$NODE_NAME/" <<<"$hw")"

if [[ "$ACCOUNTING" == 1 ]]; then
    accounting_lines="# Job records go to slurmdbd (MariaDB) so that sacct works.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# For slurmdbd connections the munge socket comes from AccountingStoragePass,
# not AuthInfo (else: Failed to access \"/run/munge/munge.socket.2\").
AccountingStoragePass=$MUNGE_SOCKET"
else
    accounting_lines="# No accounting: sacct answers 'Slurm accounting storage is disabled'.
AccountingStorageType=accounting_storage/none"
fi

new_conf="$(
    cat <<EOF
# Generated by scripts/slurm/start-local-slurm.sh -- single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE_NAME
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers / CI runners.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$accounting_lines
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
# Cores are the consumable resource; memory is not, so jobs without --mem are
# not given the whole node (which would serialize them).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Quick turnaround for tests.
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
# Cancel jobs whose afterok dependency failed (SLURMGraph) instead of leaving
# them PENDING (DependencyNeverSatisfied) forever.  Since slurm 20.11 this is
# a DependencyParameters option (silently ignored under SchedulerParameters).
DependencyParameters=kill_invalid_depend
MinJobAge=10
KillWait=2
InactiveLimit=0
Waittime=0
ReturnToService=2
SlurmdTimeout=60
$hw State=UNKNOWN
PartitionName=debug Nodes=$NODE_NAME Default=YES MaxTime=INFINITE State=UP
EOF
)"

conf_changed=0
write_if_changed "$CONF" 0644 "$new_conf" && conf_changed=1
export SLURM_CONF="$CONF"

if [[ "$conf_changed" -eq 1 ]] && { pid_alive "$CTLD_PID" || pid_alive "$SLURMD_PID"; }; then
    log "slurm.conf changed while daemons run; restarting slurmctld/slurmd"
    stop_pid slurmd "$SLURMD_PID"
    stop_pid slurmctld "$CTLD_PID"
fi

# ------------------------------------------- accounting (MariaDB+slurmdbd) ---
if [[ "$ACCOUNTING" == 1 ]]; then
    mkdir -p "$DB_DIR"
    if [[ ! -d "$DB_DIR/data/mysql" ]]; then
        log "initialising MariaDB datadir $DB_DIR/data"
        rm -rf "$DB_DIR/data"
        mariadb-install-db --user=root --datadir="$DB_DIR/data" \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$LOG_DIR/mariadb-install-db.log" 2>&1 ||
            die "mariadb-install-db failed: $(tail -n 20 "$LOG_DIR/mariadb-install-db.log")"
    fi
    db_ok() { mariadb --socket="$DB_SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1; }
    if pid_alive "$DB_PID" && db_ok; then
        log "mariadbd already running (pid $(cat "$DB_PID"))"
    else
        stop_pid mariadbd "$DB_PID"
        log "starting mariadbd on 127.0.0.1:$DB_PORT"
        # setsid -f + closed stdio: fully detached, so callers that capture
        # this script's output (subprocess pipes) are not held open.
        setsid -f mariadbd --user=root --datadir="$DB_DIR/data" \
            --socket="$DB_SOCKET" --port="$DB_PORT" --bind-address=127.0.0.1 \
            --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=32M \
            --pid-file="$DB_PID" --log-error="$DB_LOG" \
            </dev/null >/dev/null 2>&1
        for _ in $(seq 1 300); do
            db_ok && break
            sleep 0.1
        done
        db_ok || die_logs "mariadbd did not come up"
    fi
    mariadb --socket="$DB_SOCKET" -uroot -e "
        CREATE DATABASE IF NOT EXISTS slurm_acct_db;
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
        die_logs "could not create slurm_acct_db"

    dbd_conf="# Generated by scripts/slurm/start-local-slurm.sh
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$DBD_PID
LogFile=$DBD_LOG
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db"
    # slurmdbd refuses a slurmdbd.conf readable by others (it holds a password).
    if write_if_changed "$DBD_CONF" 0600 "$dbd_conf"; then
        stop_pid slurmdbd "$DBD_PID"
    fi
    dbd_ok() { sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }
    if pid_alive "$DBD_PID"; then
        log "slurmdbd already running (pid $(cat "$DBD_PID"))"
    else
        log "starting slurmdbd"
        slurmdbd </dev/null >/dev/null 2>&1 || die_logs "slurmdbd failed to start"
    fi
    # First start creates the tables, which takes a few seconds; a failing
    # sacctmgr call itself takes ~2 s, so bound the loop by time.
    dbd_deadline=$((SECONDS + TIMEOUT))
    until dbd_ok || ((SECONDS >= dbd_deadline)); do
        pid_alive "$DBD_PID" || die_logs "slurmdbd exited"
        sleep 0.2
    done
    dbd_ok || die_logs "slurmdbd not answering (sacctmgr list cluster)"
    # slurmctld would register the cluster itself, but only after its first
    # contact; adding it up front avoids "cluster not registered" races.
    if ! sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx "$CLUSTER"; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null || die_logs "sacctmgr add cluster failed"
    fi
else
    # Accounting switched off: do not leave its daemons behind.
    stop_pid slurmdbd "$DBD_PID"
    stop_pid mariadbd "$DB_PID"
fi

# ----------------------------------------------------------------- daemons ---
if pid_alive "$CTLD_PID"; then
    log "slurmctld already running (pid $(cat "$CTLD_PID"))"
else
    log "starting slurmctld"
    # -i: ignore (rather than abort on) errors in saved state files.
    slurmctld -f "$CONF" -i </dev/null >/dev/null 2>&1 || die_logs "slurmctld failed to start"
fi

if pid_alive "$SLURMD_PID"; then
    log "slurmd already running (pid $(cat "$SLURMD_PID"))"
else
    log "starting slurmd"
    slurmd -f "$CONF" -N "$NODE_NAME" </dev/null >/dev/null 2>&1 || die_logs "slurmd failed to start"
fi

# ------------------------------------------------------------------- wait ---
wait_start=$SECONDS
deadline=$((SECONDS + TIMEOUT))
resumed=0
state=""
while :; do
    state="$(sinfo -h -n "$NODE_NAME" -o '%T' 2>/dev/null | head -n 1 || true)"
    case "$state" in
    idle | mixed | allocated | completing) break ;;
    down* | drain*)
        # e.g. "down" after an unclean restart; ReturnToService=2 normally
        # handles this, but nudge once.
        if [[ "$resumed" -eq 0 ]]; then
            scontrol update NodeName="$NODE_NAME" State=RESUME >/dev/null 2>&1 || true
            resumed=1
        fi
        ;;
    esac
    # Fail fast when a daemon died (e.g. "Address already in use" because
    # another slurm owns the ports) instead of waiting for the timeout.
    if ((SECONDS >= wait_start + 3)); then
        for pf in "$CTLD_PID" "$SLURMD_PID"; do
            pid_alive "$pf" ||
                die_logs "$(basename "$pf" .pid) is not running (ports $CTLD_PORT/$SLURMD_PORT taken? see logs)"
        done
    fi
    if ((SECONDS >= deadline)); then
        scontrol show node "$NODE_NAME" >&2 2>&1 || true
        die_logs "node '$NODE_NAME' not idle after ${TIMEOUT}s (sinfo state: '${state:-<no answer>}')"
    fi
    sleep 0.2
done
acct_note=""
[[ "$ACCOUNTING" == 1 ]] && acct_note=" (accounting: slurmdbd, sacct works)"
log "node $NODE_NAME is $state$acct_note"
echo "export SLURM_CONF=$CONF"
