#!/usr/bin/env bash
# Every check, on a fresh Debian machine: system packages, the package with its test
# extras, lint, format, types, import layering, then the tests (with a real local
# SLURM, real MRtrix3 and dipy). Run as root (apt-get, SLURM daemons).
set -euo pipefail
cd "$(dirname "$0")/.."

# -- dependencies -------------------------------------------------------------
bash scripts/install-system-deps.sh             # mrtrix3, graphviz, chromium, slurm, munge
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet -e ".[test]"
bash scripts/install-example-deps.sh            # mrtrix3 (apt), dipy, nitime

# -- static checks ------------------------------------------------------------
ruff check .
ruff format --check .
mypy
lint-imports

# -- a real single-node SLURM on localhost, stopped when we leave -------------
# accounting on: Pydra's slurm worker reads exit codes with sacct
eval "$(NIPYPE_CARBON_SLURM_ACCOUNTING=1 bash scripts/slurm/start-local-slurm.sh)"
export LOGNAME="${LOGNAME:-$(id -un)}"
trap 'bash scripts/slurm/stop-local-slurm.sh >/dev/null 2>&1 || true' EXIT

# -- tests ----------------------------------------------------------------------
set +e
python3 -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
