#!/usr/bin/env bash
# The main job on a fresh Debian machine: install nipype-carbon and the example's
# dependencies (MRtrix3 from Debian, dipy and nitime from PyPI) into a virtual environment
# (.venv, made from Debian's /usr/bin/python3), run the real diffusion + BOLD-confounds
# pipeline metered by CarbonMultiProc, then report. The report files are named after the
# run's session, so a rerun never overwrites an earlier report.
#
# Usage: bash scripts/run-example.sh [--upsample] [--region GB] [--base-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_DIR="${BASE_DIR:-$PWD/carbon-run}"
REGION=""
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --upsample) EXTRA+=(--upsample); shift ;;
        --region) REGION="$2"; shift 2 ;;
        --base-dir) BASE_DIR="$2"; shift 2 ;;
        *) echo "unknown option $1 (use --upsample, --region CODE, --base-dir DIR)" >&2; exit 2 ;;
    esac
done

bash scripts/install-system-deps.sh python3-venv mrtrix3 graphviz # venv; the pipeline's tools; the graph
# shellcheck source=scripts/venv.sh
source scripts/venv.sh # creates .venv from /usr/bin/python3 and puts it first on PATH
"$VENV_PYTHON" -m pip install --quiet -e .
bash scripts/install-example-deps.sh # dipy, nitime into the venv

ARGS=(--base-dir "$BASE_DIR" --plugin CarbonMultiProc --n-procs "$(nproc)")
[ -n "$REGION" ] && ARGS+=(--plugin-arg "region=$REGION")
"$VENV_PYTHON" examples/dwi_pipeline/run.py "${ARGS[@]}" "${EXTRA[@]}"

CARBON_DIR="$BASE_DIR/work/dwi_carbon_example/carbon"
# The run just made (newest session); its name keeps each run's report files apart.
SESSION="$(ls -t "$CARBON_DIR"/session-*.jsonl | head -n 1)"
NAME="$(basename "$SESSION" .jsonl)"
CLI="$VENV/bin/nipype-carbon"
echo
"$CLI" report "$SESSION" --top 15 --cohort 40000
echo
echo "Which alternative branch is cheaper, step by step:"
"$CLI" compare "$CARBON_DIR" --alternatives \
    "denoise=denoise_mrtrix,denoise_dipy" "tensor fit=tensor_mrtrix+metrics_mrtrix,tensor_dipy"
echo
"$CLI" report "$SESSION" -o "$BASE_DIR/$NAME.html"
"$CLI" report "$SESSION" -o "$BASE_DIR/$NAME.csv"
"$CLI" graph "$SESSION" -o "$BASE_DIR/$NAME.svg"
echo "Open $BASE_DIR/$NAME.html for the full report (tables, timeline, graph, methods)."
echo "The venv stays: run '. $VENV/bin/activate' (or use $VENV/bin/nipype-carbon) for more."
