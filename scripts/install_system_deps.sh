#!/usr/bin/env bash
# Installs the Debian packages espnet_ddp's recipes and tests use, when missing and running as root.
# Packages named as arguments are installed too when dpkg says they are missing
# (make test-espnet-oldest: libsentencepiece-dev).
set -euo pipefail
pkgs=()
command -v sox >/dev/null || pkgs+=(sox)
command -v ffmpeg >/dev/null || pkgs+=(ffmpeg)
command -v sctk >/dev/null || pkgs+=(sctk)
command -v espeak-ng >/dev/null || pkgs+=(espeak-ng)
command -v flite >/dev/null || pkgs+=(flite)
ldconfig -p 2>/dev/null | grep -q libsndfile || pkgs+=(libsndfile1)
for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || pkgs+=("$pkg")
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install_system_deps: missing Debian packages: ${pkgs[*]} (not root: install them yourself)" >&2
    exit 0
fi
echo "install_system_deps: installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${pkgs[@]}" >/dev/null
