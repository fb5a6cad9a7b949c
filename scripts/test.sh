#!/usr/bin/env bash
# Every check, on a fresh Debian machine: system packages, a virtual environment (.venv,
# made from Debian's /usr/bin/python3) with the package and its test extras, a check that
# the install needs no other Python, lint, format, types, import layering, then the tests
# (with a real local SLURM, real MRtrix3 and dipy). Run as root (apt-get, SLURM daemons).
#
# Usage: bash scripts/test.sh [--setup-only] [PYTEST ARGS ...]
#   --setup-only  install and check the venv, then stop (no static checks, SLURM or pytest)
set -euo pipefail
cd "$(dirname "$0")/.."

SETUP_ONLY=0
if [ "${1:-}" = "--setup-only" ]; then
    SETUP_ONLY=1
    shift
fi

# -- dependencies -------------------------------------------------------------
bash scripts/install-system-deps.sh # python3-venv, mrtrix3, graphviz, chromium, slurm, munge
# shellcheck source=scripts/venv.sh
source scripts/venv.sh # creates .venv from /usr/bin/python3 and puts it first on PATH
"$VENV_PYTHON" -m pip install --quiet -e ".[test]"
bash scripts/install-example-deps.sh # dipy, nitime into the venv
# niworkflows' MultiProcPlugin (the copy fMRIPrep and MRIQC run) for tests/apps: its plugin module
# needs only nipype, so it goes without its dependencies into a folder of its own, not the venv
APPS_EXTRA="$VENV/apps-extra"
if [ ! -f "$APPS_EXTRA/niworkflows/engine/plugin.py" ]; then
    "$VENV_PYTHON" -m pip install --quiet --no-deps --upgrade --target "$APPS_EXTRA" "niworkflows==1.14.5"
fi
bash scripts/check-venv.sh "$VENV"
[ "$SETUP_ONLY" -eq 1 ] && exit 0

# -- static checks ------------------------------------------------------------
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/lint-imports"

# -- a real single-node SLURM on localhost; we stop only what we started --------
SLURM_DIR="${NIPYPE_CARBON_SLURM_DIR:-/tmp/nipype-carbon-slurm}"
declare -A PIDFILE_OF=(
    [slurmd]="$SLURM_DIR/run/slurmd.pid" [slurmctld]="$SLURM_DIR/run/slurmctld.pid"
    [slurmdbd]="$SLURM_DIR/run/slurmdbd.pid" [mariadbd]="$SLURM_DIR/run/mariadbd.pid"
    [munged]="$SLURM_DIR/munge/munged.pid"
)
running_daemons() {
    local name pid
    for name in "${!PIDFILE_OF[@]}"; do
        [ -s "${PIDFILE_OF[$name]}" ] || continue
        pid="$(tr -dc '0-9' <"${PIDFILE_OF[$name]}")"
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$name"
    done
    return 0
}
already_running=" $(running_daemons | tr '\n' ' ')"
stop_what_we_started() {
    local name ours=()
    for name in $(running_daemons); do
        [[ "$already_running" == *" $name "* ]] || ours+=("$name")
    done
    [ "${#ours[@]}" -eq 0 ] ||
        bash scripts/slurm/stop-local-slurm.sh "${ours[@]}" >/dev/null 2>&1 || true
}
trap stop_what_we_started EXIT
# accounting on: Pydra's slurm worker reads exit codes with sacct
if ! slurm_env="$(NIPYPE_CARBON_SLURM_ACCOUNTING=1 bash scripts/slurm/start-local-slurm.sh)"; then
    echo "test.sh: the local SLURM did not start (its daemons' last log lines are above;" \
        "logs in $SLURM_DIR/log). Stop what holds ports 6817-6819/3317, or set" \
        "NIPYPE_CARBON_SLURM_DIR and the NIPYPE_CARBON_*_PORT variables, then rerun." >&2
    exit 1
fi
eval "$slurm_env"
export LOGNAME="${LOGNAME:-$(id -un)}"

# -- tests ----------------------------------------------------------------------
set +e
"$VENV_PYTHON" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
