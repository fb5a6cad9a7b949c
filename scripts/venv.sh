# Sourced by run-example.sh and test.sh: create (once) and activate the project's virtual
# environment, so nothing is installed into the system Python.
#
# Debian 12's /usr/bin/python3 is "externally managed" (PEP 668): `pip install` into it is
# refused. We never ask it to: the venv is made from Debian's own interpreter (so no other
# Python is needed) and every later command (pip, ruff, mypy, lint-imports, pytest,
# nipype-carbon, python3) is the venv's, found first on PATH.
#
# Environment:
#   NIPYPE_CARBON_VENV   where the venv lives (default: .venv in the repository)
#   NIPYPE_CARBON_PYTHON the interpreter the venv is made from (default: /usr/bin/python3
#                        when it exists, even if another python3 comes first on PATH;
#                        else python3 on PATH)
#
# After sourcing: VENV, VENV_PYTHON and BASE_PYTHON are set, the venv is on PATH.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NIPYPE_CARBON_VENV:-$REPO_ROOT/.venv}"
if [ -n "${NIPYPE_CARBON_PYTHON:-}" ]; then
    BASE_PYTHON="$NIPYPE_CARBON_PYTHON"
elif [ -x /usr/bin/python3 ]; then
    BASE_PYTHON=/usr/bin/python3
else
    BASE_PYTHON="$(command -v python3 || true)"
fi
[ -n "$BASE_PYTHON" ] || {
    echo "no python3 found: install it (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
}
VENV_PYTHON="$VENV/bin/python3"

# venv_base_matches: the existing venv was made from BASE_PYTHON (not from pyenv, say).
venv_base_matches() {
    [ -x "$VENV_PYTHON" ] || return 1
    local want have
    want="$("$BASE_PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')"
    have="$("$VENV_PYTHON" -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null)" ||
        return 1
    [ "$want" = "$have" ]
}

if ! venv_base_matches; then
    if [ -e "$VENV" ]; then
        echo "venv: $VENV was not made from $BASE_PYTHON; making it afresh" >&2
        rm -rf "$VENV"
    fi
    # Debian ships venv's pip bootstrap (ensurepip) in python3-venv.
    if ! "$BASE_PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
        bash "$REPO_ROOT/scripts/install-system-deps.sh" python3-venv
    fi
    echo "venv: creating $VENV from $BASE_PYTHON" >&2
    "$BASE_PYTHON" -m venv "$VENV"
    "$VENV_PYTHON" -m pip install --quiet --upgrade pip
fi

export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
export PYTHON="$VENV_PYTHON" # read by install-example-deps.sh
hash -r
