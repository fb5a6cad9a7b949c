#!/usr/bin/env bash
# Check that the install does not depend on a non-Debian Python (run by test.sh, so by CI):
#   1. the venv was made from Debian's /usr/bin/python3, not from pyenv or conda;
#   2. the venv does not see the system's site-packages;
#   3. nipype-carbon and its dependencies are imported from the venv (or this repository);
#   4. Debian's python3 refuses `pip install` (PEP 668), so the install above cannot have
#      relied on it.
# On a machine without Debian's /usr/bin/python3 the checks that need it say so and pass.
#
# Usage: check-venv.sh VENV_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:?usage: check-venv.sh VENV_DIR}"
PY="$VENV/bin/python3"
fail() {
    echo "check-venv: FAIL: $*" >&2
    exit 1
}

[ -x "$PY" ] || fail "$PY missing: source scripts/venv.sh first"
base="$("$PY" -c 'import os, sys; print(os.path.realpath(sys._base_executable))')"
"$PY" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' || fail "$PY is not a venv"
grep -qx 'include-system-site-packages = false' "$VENV/pyvenv.cfg" ||
    fail "$VENV sees the system's site-packages (pyvenv.cfg)"
DEBIAN=0
if [ -x /usr/bin/python3 ] && [ -f /etc/debian_version ]; then
    DEBIAN=1
    debian="$(realpath /usr/bin/python3)"
    [ "$base" = "$debian" ] || fail "venv made from $base, not Debian's $debian (remove $VENV and rerun)"
fi

# Every third-party package the tests import comes from the venv; our own from the repo.
"$PY" - "$VENV" "$PWD" <<'EOF' || fail "a package is imported from outside the venv"
import importlib, os, sys  # pydra is a namespace package: check pydra.engine
venv, repo = (os.path.realpath(p) for p in sys.argv[1:3])
bad = []
for name in ("nipype", "pydra.engine", "numpy", "pandas", "networkx", "pytest"):
    where = os.path.realpath(importlib.import_module(name).__file__)
    if not where.startswith(venv + os.sep):
        bad.append(f"{name}: {where}")
for name in ("nipype_carbon", "pydra_carbon"):
    where = os.path.realpath(importlib.import_module(name).__file__)
    if not where.startswith(repo + os.sep):
        bad.append(f"{name}: {where} (expected the editable install of {repo})")
for line in bad:
    print(f"check-venv: {line}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

if [ "$DEBIAN" -eq 1 ]; then
    # PEP 668: the marker file makes pip refuse; probe pip too (without installing anything).
    marker="$(/usr/bin/python3 -c 'import os, sysconfig; print(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))')"
    [ -f "$marker" ] || fail "Debian's python3 is not externally managed ($marker missing): is this Debian 12?"
    if out="$(PIP_BREAK_SYSTEM_PACKAGES=0 /usr/bin/python3 -m pip install --dry-run --no-index nipype-carbon 2>&1)"; then
        fail "/usr/bin/python3 -m pip install was not refused: $out"
    fi
    why="$(echo "$out" | grep -o -m 1 'externally-managed-environment\|No module named pip' || true)"
    [ -n "$why" ] || fail "/usr/bin/python3 -m pip install failed, but not for PEP 668: $out"
    echo "check-venv: ok: venv from $debian; its pip install is refused ($why)" >&2
else
    echo "check-venv: ok: venv from $base (no Debian /usr/bin/python3 here: PEP 668 check skipped)" >&2
fi
