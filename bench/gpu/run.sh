#!/usr/bin/env bash
# GPU benchmark of espnet_ddp, its one command, no network needed:
#     bash bench/gpu/run.sh            # on a machine with one GPU: the full benchmark (hours)
#     bash bench/gpu/run.sh --quick    # 3 timing runs, fits one 9-minute command
#     bash bench/gpu/run.sh --sweep    # WER of 13 variants (candidates, budget baseline, fitted
#                                      # twins) trained concurrently, then the frontier; fits one
#                                      # 9-minute command
#     bash bench/gpu/run.sh --small    # with any of the above: CPU smoke run of that pipeline
#     bash bench/gpu/run.sh --sweep --dry   # print the plan and every run's options, run nothing
# Every option goes to `python -m gpu` (bench/gpu/__main__.py; --help lists them per mode).
#
# It needs Python with torch and torchaudio. What else is missing is installed from
# bench/gpu/offline/ (made beforehand by bench/gpu/fetch_wheels.sh on a machine with network):
#   - espnet and what the GPU image lacks -> a folder put on PYTHONPATH (bench/gpu/out/site);
#   - espeak-ng and flite (Debian packages) -> unpacked into a folder, never into /.
set -euo pipefail
export BENCH_T0=${BENCH_T0:-$(date +%s.%N)}  # --quick reports the time spent before Python
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${here}/../.." && pwd)
offline=${here}/offline
work=${BENCH_WORK:-${here}/out}
mkdir -p "${work}"
say() { echo "[$(date +%H:%M:%S)] run.sh: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# 1. Python with espnet.
py=${PYTHON:-}
if [ -z "${py}" ]; then
    if [ -x "${repo}/.venv/bin/python" ]; then py=${repo}/.venv/bin/python; else py=python3; fi
fi
"${py}" -c "import torch, torchaudio" 2>/dev/null || die "${py}: torch and torchaudio are needed"
# Presence only: importing espnet2.tasks.asr costs ~28 s on the GPU machine (DESIGN.md section 5),
# and the statistics stage imports it anyway, failing with its log tail if a dependency is missing.
has_espnet() { "${py}" -c "import importlib.util as u, sys; sys.exit(u.find_spec('espnet2') is None)"; }
if ! has_espnet; then
    [ -d "${offline}/wheels" ] || die "espnet is missing and ${offline}/wheels is absent: run \
bench/gpu/fetch_wheels.sh on a machine with network first"
    # Into a folder on PYTHONPATH, not a venv: a venv made from the GPU image's Python (itself a
    # venv) would not see the image's torch.
    site=${work}/site
    if [ ! -f "${site}/.installed" ]; then
        say "installing espnet and what the image lacks from ${offline}/wheels into ${site}"
        rm -rf "${site}"
        # One name per wheel; pip picks the file that fits this Python.
        mapfile -t names < <(ls "${offline}/wheels" | sed -n 's/^\([^-]*\)-.*\.whl$/\1/p' | sort -u)
        "${py}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target "${site}" --find-links "${offline}/wheels" "${names[@]}"
        touch "${site}/.installed"
    fi
    export PYTHONPATH=${site}${PYTHONPATH:+:${PYTHONPATH}}
    has_espnet || die "espnet is still missing from ${site} (see above)"
    # espnet2's phoneme tokenizer imports g2p_en, which downloads two NLTK data sets at import
    # time unless it finds them: stand-ins (never read: no run uses phonemes) spare the network
    # that is not there.
    nltk=${work}/nltk_data
    if [ ! -d "${nltk}/corpora" ]; then
        "${py}" - "${nltk}" <<'PY'
import sys, zipfile
from pathlib import Path
root = Path(sys.argv[1])
for folder, name in (("taggers", "averaged_perceptron_tagger_eng"), ("corpora", "cmudict")):
    (root / folder).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(root / folder / f"{name}.zip", "w") as z:
        z.writestr(f"{name}/README", "stand-in: espnet_ddp's benchmark never uses g2p_en\n")
PY
    fi
    export NLTK_DATA=${nltk}
fi

# 2. espeak-ng and flite.
if ! command -v espeak-ng >/dev/null || ! command -v flite >/dev/null; then
    [ -d "${offline}/debs" ] || die "espeak-ng/flite are missing and ${offline}/debs is absent"
    root=${work}/sysroot
    if [ ! -d "${root}/usr/bin" ]; then
        say "unpacking espeak-ng and flite into ${root}"
        mkdir -p "${root}"
        for deb in "${offline}"/debs/*.deb; do
            if command -v dpkg-deb >/dev/null; then
                dpkg-deb -x "${deb}" "${root}"
            else  # a .deb is an ar archive holding data.tar.*
                tmp=$(mktemp -d)
                (cd "${tmp}" && ar x "${deb}" && tar -xf data.tar.* -C "${root}")
                rm -rf "${tmp}"
            fi
        done
    fi
    lib=${root}/usr/lib/x86_64-linux-gnu
    export PATH=${root}/usr/bin:${PATH}
    # The stub stands in for libpcaudio0, which would need ALSA/PulseAudio (never used: -w/--stdout).
    export LD_LIBRARY_PATH=${offline}/stub:${lib}${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}
    export ESPEAK_DATA_PATH=${lib}
    espeak-ng --stdout hello >/dev/null || die "espeak-ng from ${root} does not run"
    flite -t hello -o /dev/null || die "flite from ${root} does not run"
fi

# 3. The benchmark: one Python entry point; it picks the mode from --quick / --sweep.
export PYTHONPATH=${repo}:${repo}/bench${PYTHONPATH:+:${PYTHONPATH}}
export BENCH_COMMIT=${BENCH_COMMIT:-$(git -C "${repo}" rev-parse --short HEAD 2>/dev/null || echo unknown)}
cd "${repo}"
say "python: ${py}; python -m gpu $*"
exec "${py}" -m gpu "$@"
