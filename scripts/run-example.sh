#!/usr/bin/env bash
# The main job on a fresh Debian machine: install nipype-carbon and the example's
# dependencies (MRtrix3 from Debian, dipy and nitime from PyPI), run the real
# diffusion + BOLD-confounds pipeline metered by CarbonMultiProc, then report.
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

python3 -m pip install --quiet -e .
bash scripts/install-system-deps.sh mrtrix3 graphviz   # the pipeline's tools; the graph
bash scripts/install-example-deps.sh

ARGS=(--base-dir "$BASE_DIR" --plugin CarbonMultiProc --n-procs "$(nproc)")
[ -n "$REGION" ] && ARGS+=(--plugin-arg "region=$REGION")
python3 examples/dwi_pipeline/run.py "${ARGS[@]}" "${EXTRA[@]}"

CARBON_DIR="$BASE_DIR/work/dwi_carbon_example/carbon"
echo
nipype-carbon report "$CARBON_DIR" --top 15 --cohort 40000
echo
echo "Which alternative branch is cheaper, step by step:"
nipype-carbon compare "$CARBON_DIR" --alternatives \
    "denoise=denoise_mrtrix,denoise_dipy" "tensor fit=tensor_mrtrix+metrics_mrtrix,tensor_dipy"
echo
nipype-carbon report "$CARBON_DIR" -o "$BASE_DIR/report.html"
nipype-carbon report "$CARBON_DIR" -o "$BASE_DIR/nodes.csv"
nipype-carbon graph "$CARBON_DIR" -o "$BASE_DIR/graph.svg"
echo "Open $BASE_DIR/report.html for the full report (tables, timeline, graph, methods)."
