#!/usr/bin/env bash
# make test-espnet-newest: the newest ESPnet release in a venv of its own, built with the newest
# Python present that the release installs on, and the given tests run there.
#
#   scripts/test_espnet_newest.sh VENV TEST...
#   env: NEWEST_ESPNET (default 202611), NEWEST_PYTHON (an interpreter to use instead of
#        searching), PYTEST_ARGS (passed to pytest)
#
# ESPnet 202609-202611 declare Requires-Python >=3.12,<3.14. The search takes python3.13, then
# python3.12, from PATH, /usr/bin, /usr/local/bin and pyenv's versions; an interpreter counts
# when it runs and has venv and ensurepip (Debian ships those in python3.X-venv). Without one
# the script says so and exits 0: Debian 12 has Python 3.11 only. The venv gets a bare
# `espnet==$NEWEST_ESPNET` with torch 2.11, then espnet_ddp (editable, with its [test] extra),
# which must leave that ESPnet in place: the install fails if it changed the release.
set -euo pipefail

espnet=${NEWEST_ESPNET:-202611}
venv=${1:?usage: $0 VENV TEST...}
shift
name=test-espnet-newest

usable() {  # $1 runs, is Python 3.12 or 3.13, and can make a venv with pip in it
    "$1" -c 'import sys, ensurepip, venv
sys.exit(not (3, 12) <= sys.version_info[:2] < (3, 14))' >/dev/null 2>&1
}

candidates() {  # interpreters to try, the newest minor first
    local minor
    for minor in 13 12; do
        command -v "python3.$minor" 2>/dev/null || true
        echo "/usr/bin/python3.$minor"
        echo "/usr/local/bin/python3.$minor"
        ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.$minor".*/bin/"python3.$minor" 2>/dev/null \
            | sort -rV || true
    done
}

find_python() {
    if [ -n "${NEWEST_PYTHON:-}" ]; then
        usable "$NEWEST_PYTHON" && echo "$NEWEST_PYTHON" && return 0
        echo "$name: NEWEST_PYTHON=$NEWEST_PYTHON is not a Python 3.12 or 3.13 with venv" >&2
        return 1
    fi
    local c
    while read -r c; do
        [ -x "$c" ] && usable "$c" && echo "$c" && return 0
    done < <(candidates)
    return 1
}

if ! python=$(find_python); then
    present=$(ls /usr/bin/python3.1* 2>/dev/null | grep -E 'python3\.[0-9]+$' | xargs)
    echo "$name: SKIPPED, nothing run: ESPnet $espnet needs Python >=3.12,<3.14 with venv, and" \
         "there is none here (/usr/bin has: ${present:-no python3.1x}; PATH and pyenv have no" \
         "usable python3.13 or python3.12). On Debian 13: apt-get install python3.13-venv;" \
         "elsewhere: NEWEST_PYTHON=/path/to/python3.12 make $name"
    exit 0
fi
echo "$name: $("$python" -c 'import sys; print("Python", sys.version.split()[0])') ($python)"

stamp=$venv/.espnet_ddp-installed
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ]; then
    start=$(date +%s)
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q torch==2.11.0 torchaudio==2.11.0 "espnet==$espnet"
    "$venv/bin/python" -m pip install -q -e '.[test]'
    echo "$name: installed torch 2.11.0, ESPnet $espnet and espnet_ddp into $venv in" \
         "$(( $(date +%s) - start )) s"
    touch "$stamp"
fi

got=$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("espnet"))')
if [ "$got" != "$espnet" ]; then
    echo "$name: FAILED: $venv has ESPnet $got, not $espnet: installing espnet_ddp changed it" >&2
    rm -f "$stamp"
    exit 1
fi
"$venv/bin/python" -c 'import sys, torch; print("'"$name"': Python", sys.version.split()[0],
      "torch", torch.__version__, "ESPnet '"$got"'")'

start=$(date +%s)
status=0
# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
"$venv/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} "$@" || status=$?
echo "$name: tests on ESPnet $got took $(( $(date +%s) - start )) s, exit status $status"
exit "$status"
