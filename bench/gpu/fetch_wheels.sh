#!/usr/bin/env bash
# Run on a machine WITH network, before taking the repository to an offline GPU machine.
# Fills bench/gpu/offline/ (git-ignored; carried to the GPU machine):
#   wheels/  every package of the project's venv that the GPU image lacks (the venv's freeze minus
#            gpu_image_packages.txt, without espnet_ddp itself, which travels as source), at the
#            venv's versions, for CPython 3.11 (the CPU rehearsal) and 3.12 (the GPU machine):
#            binary wheels from the index, source-only packages built here (pure Python only);
#   debs/    espeak-ng, flite and their libraries from Debian (unpacked by run.sh into a folder);
#   stub/    an empty stand-in for libpcaudio.so.0 (espeak-ng links it, but writing audio to a
#            file never opens a sound device; the real one would need ALSA/PulseAudio).
# Ends with the size of offline/ and a check that the 3.12 set resolves with --only-binary.
# Usage: bash bench/gpu/fetch_wheels.sh [venv python]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-${here}/../../.venv/bin/python}
dest=${here}/offline
mkdir -p "${dest}/wheels" "${dest}/debs" "${dest}/stub"
platforms=(--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64)

# The venv's packages the GPU image lacks, pinned to the venv's versions.
mapfile -t wanted < <("${py}" - "${here}/gpu_image_packages.txt" <<'PY'
import re, sys
from importlib import metadata
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
have = {norm(l.strip()) for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")}
# the project itself travels as source; ruff: tests only; pyworld: TTS pitch features only
# (never imported by ASR training or decoding), source-only, and it would need a compiler there
skip = {"espnet-ddp", "ruff", "pip", "pyworld"}
for dist in sorted(metadata.distributions(), key=lambda d: norm(d.metadata["Name"])):
    name = norm(dist.metadata["Name"])
    if name not in have and name not in skip:
        print(f"{dist.metadata['Name']}=={dist.version}")
PY
)
echo "fetch_wheels: ${#wanted[@]} packages: ${wanted[*]}"
for spec in "${wanted[@]}"; do
    ok=1
    for ver in 3.11 3.12; do
        "${py}" -m pip download -q --no-deps --only-binary=:all: --python-version "${ver}" \
            "${platforms[@]}" -d "${dest}/wheels" "${spec}" 2>/dev/null || ok=0
    done
    if [ "${ok}" = 0 ]; then  # no wheel for one of the Pythons: build it here (pure Python only)
        "${py}" -m pip wheel -q --no-deps -w "${dest}/wheels" "${spec}"
    fi
done
# A wheel built here must be pure Python, or it would not install on the GPU machine's 3.12.
bad=$(ls "${dest}/wheels" | grep -E 'cp311-cp311-linux' || true)
[ -z "${bad}" ] || { echo "fetch_wheels: built for 3.11 only: ${bad}" >&2; exit 1; }

# Debian packages (not installed: run.sh unpacks them into a folder).
(cd "${dest}/debs" && apt-get download espeak-ng libespeak-ng1 espeak-ng-data libsonic0 \
    flite libflite1 libasound2 libasound2-data)

# Stand-in libpcaudio.so.0: the symbols espeak-ng references, none of them functional.
cat > "${dest}/stub/pcaudio_stub.c" <<'C'
#include <stddef.h>
void *create_audio_device_object(const char *d, const char *a, const char *b) { return NULL; }
int audio_object_open(void *o, int f, unsigned r, unsigned char c) { return -1; }
void audio_object_close(void *o) {}
void audio_object_destroy(void *o) {}
int audio_object_write(void *o, const void *d, size_t n) { return -1; }
int audio_object_drain(void *o) { return 0; }
int audio_object_flush(void *o) { return 0; }
const char *audio_object_strerror(void *o, int e) { return "no audio device (stub)"; }
C
cc -shared -fPIC -Wl,-soname,libpcaudio.so.0 -o "${dest}/stub/libpcaudio.so.0" \
    "${dest}/stub/pcaudio_stub.c"

# The 3.12 set must resolve from binaries alone (what the GPU machine's pip will see).
check=$(mktemp -d)
"${py}" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 "${platforms[@]}" \
    --no-index --find-links "${dest}/wheels" -d "${check}" "${wanted[@]}"
rm -rf "${check}"
echo "fetch_wheels: $(ls "${dest}/wheels" | wc -l) wheels; the 3.12 set resolves; offline/ is $(du -sh "${dest}" | cut -f1)"
