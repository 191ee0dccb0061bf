#!/usr/bin/env bash
# Run on a machine WITH network, before taking the repository to an offline GPU machine.
# Downloads into bench/gpu/offline/ (git-ignored):
#   wheels/  espnet 202511 and the pure-Python / binary dependencies a torch-only image lacks
#            (DESIGN.md section 5), for CPython 3.11 and 3.12; source-only ones are built here;
#   debs/    espeak-ng, flite and their libraries from Debian (unpacked by run.sh into a folder);
#   stub/    an empty stand-in for libpcaudio.so.0 (espeak-ng links it, but writing audio to a
#            file never opens a sound device; the real one would need ALSA/PulseAudio).
# Usage: bash bench/gpu/fetch_wheels.sh [python]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-${here}/../../.venv/bin/python}
[ -x "${py}" ] || py=python3
dest=${here}/offline
mkdir -p "${dest}/wheels" "${dest}/debs" "${dest}/stub"

# Pure-Python packages (any Python 3).
pure=(espnet==202511 configargparse typeguard humanfriendly jamo kaldiio torch_complex librosa
      audioread pooch platformdirs lazy_loader decorator pycparser hydra-core omegaconf nltk
      espnet_tts_frontend espnet-g2p-en pypinyin jaconv unidecode inflect)
# Binary packages: one wheel per CPython version.
binary=(soxr soundfile cffi editdistance)
# Source-only packages: built into wheels here.
source_only=(antlr4-python3-runtime==4.9.3 ci_sdr distance fast-bss-eval)

# Pin each package to the version this venv runs (known to work together), when it has one.
pinned() {
    "${py}" - "$@" <<'PY'
import sys
from importlib import metadata
for spec in sys.argv[1:]:
    name = spec.split("==")[0]
    try:
        print(f"{name}=={metadata.version(name)}" if "==" not in spec else spec)
    except metadata.PackageNotFoundError:
        print(spec)
PY
}
mapfile -t pure < <(pinned "${pure[@]}")
mapfile -t binary < <(pinned "${binary[@]}")
mapfile -t source_only < <(pinned "${source_only[@]}")

"${py}" -m pip download -q --no-deps -d "${dest}/wheels" "${pure[@]}"
for ver in 3.11 3.12; do
    "${py}" -m pip download -q --no-deps --only-binary=:all: --python-version "${ver}" \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 -d "${dest}/wheels" "${binary[@]}"
done
"${py}" -m pip wheel -q --no-deps -w "${dest}/wheels" "${source_only[@]}"

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
ls "${dest}/wheels" | wc -l | xargs echo "wheels:"
ls "${dest}/debs"
