#!/usr/bin/env bash
# Debian packages the tests and the example use, in one apt transaction (idempotent):
# MRtrix3 (example pipeline), graphviz (workflow graph), chromium (HTML report test),
# slurm-wlm + munge (local SLURM for the batch tests), mariadb-server (SLURM accounting,
# which Pydra's slurm worker needs for sacct).
#
# Usage: install-system-deps.sh [PACKAGE ...]   (default: all of the above)
set -euo pipefail

declare -A COMMAND_OF=(
    [mrtrix3]=dwidenoise [graphviz]=dot [chromium]=chromium
    [slurm-wlm]=slurmctld [munge]=munged [mariadb-server]=mariadbd
)
if [ $# -gt 0 ]; then
    PACKAGES=("$@")
else
    PACKAGES=(mrtrix3 graphviz chromium slurm-wlm munge mariadb-server)
fi
COMMANDS=()
for package in "${PACKAGES[@]}"; do
    COMMANDS+=("${COMMAND_OF[$package]:?unknown package $package}")
done

missing=()
for i in "${!PACKAGES[@]}"; do
    command -v "${COMMANDS[$i]}" >/dev/null 2>&1 || missing+=("${PACKAGES[$i]}")
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
