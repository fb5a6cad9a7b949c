#!/usr/bin/env bash
# Debian packages the tests and the example use, in one apt transaction (idempotent):
# python3-venv (the venv the scripts install into; Debian's python3 refuses pip installs),
# MRtrix3 (example pipeline), graphviz (workflow graph), chromium (HTML report test),
# slurm-wlm + munge (local SLURM for the batch tests), mariadb-server (SLURM accounting,
# which Pydra's slurm worker needs for sacct).
#
# Usage: install-system-deps.sh [PACKAGE ...]   (default: all of the above)
set -euo pipefail

# How to tell each package is present: a command on PATH, or a probe that succeeds.
declare -A COMMAND_OF=(
    [python3-venv]="probe:venv_usable" [mrtrix3]=dwidenoise [graphviz]=dot [chromium]=chromium
    [slurm-wlm]=slurmctld [munge]=munged [mariadb-server]=mariadbd
)
if [ $# -gt 0 ]; then
    PACKAGES=("$@")
else
    PACKAGES=(python3-venv mrtrix3 graphviz chromium slurm-wlm munge mariadb-server)
fi
COMMANDS=()
for package in "${PACKAGES[@]}"; do
    COMMANDS+=("${COMMAND_OF[$package]:?unknown package $package}")
done

# Debian's venv module needs ensurepip, which python3-venv ships.
venv_usable() {
    local python=/usr/bin/python3
    [ -x "$python" ] || python="$(command -v python3)" || return 1
    "$python" -c 'import ensurepip' >/dev/null 2>&1
}
present() {
    case "$1" in
    probe:*) "${1#probe:}" ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing=()
for i in "${!PACKAGES[@]}"; do
    present "${COMMANDS[$i]}" || missing+=("${PACKAGES[$i]}")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "system packages: all present" >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
