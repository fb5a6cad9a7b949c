#!/usr/bin/env bash
# Install the dependencies of examples/dwi_pipeline (idempotent).
#
# - Debian's mrtrix3 package (dwidenoise, dwi2tensor, tensor2metric, mrconvert),
#   installed only when dwidenoise is not already on PATH.
# - Python packages: dipy (data + NLMeans + DTI), nitime (needed by
#   nipype.algorithms.confounds.ComputeDVARS), nibabel (ships the BOLD test file).
#
# Nothing else is downloaded at run time: the example data are files shipped
# inside the dipy and nibabel wheels.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

install_mrtrix3() {
    if command -v dwidenoise >/dev/null 2>&1; then
        echo "mrtrix3: dwidenoise already on PATH ($(command -v dwidenoise))"
        return
    fi
    echo "mrtrix3: installing Debian package"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends mrtrix3
}

install_python_deps() {
    local python="${PYTHON:-python3}"
    if "$python" -c "import dipy, nitime, nibabel, nipype" >/dev/null 2>&1; then
        echo "python: dipy, nitime, nibabel, nipype already importable"
        return
    fi
    echo "python: installing dipy, nitime, nibabel, nipype"
    "$python" -m pip install --quiet "dipy>=1.7" "nitime>=0.10" "nibabel>=5" "nipype>=1.8"
}

install_mrtrix3
install_python_deps
