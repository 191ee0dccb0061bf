#!/usr/bin/env bash
# Stage 1 of the LRS3 recipe (audio only): LRS3 clips -> Kaldi-style data directories
#   data/train   trainval (+ pretrain with --use_pretrain true), without the dev speakers
#   data/dev     the speakers of trainval whose id's SHA-1 sorts first (--dev_ratio of them)
#   data/test    test
# The corpus is read from ${LRS3} (db.sh): {trainval,test[,pretrain]}/<id>/<n>.mp4 with <n>.txt
# ("Text:  WORDS" on its first line). The audio is extracted with ffmpeg as 16 kHz mono wav.
# Clips with a missing mp4 or transcript, an empty transcript, no audio track or an audio rate other
# than --source_fs stop the stage, each named in the report.
set -euo pipefail

use_pretrain=false             # add LRS3's pretrain clips to data/train (long clips: raise --max_wav_duration)
dev_ratio=0.05                 # share of the trainval speakers held out as data/dev
wav_dir=data/local/lrs3_wav    # extracted audio (kept: a rerun only extracts what is missing)
nj=8                           # parallel ffmpeg processes
source_fs=16000                # LRS3's audio rate; a clip at another rate is reported
allow_resample=false           # true: accept any rate and resample to 16 kHz

help_message="Usage: $0 [--use_pretrain false] [--dev_ratio 0.05] [--wav_dir DIR] [--nj 8] [--allow_resample false]"
. utils/parse_options.sh
[ $# -eq 0 ] || { echo "$0: unexpected arguments: $*" >&2; exit 1; }
. ./path.sh
. ./db.sh

die() {
    echo -e "$0: ERROR: $*" >&2
    exit 1
}
for b in use_pretrain allow_resample; do
    case "${!b}" in true|false) ;; *) die "--${b} must be true or false: ${!b}" ;; esac
done

splits="trainval test"
"${use_pretrain}" && splits+=" pretrain"
for split in ${splits}; do
    if [ ! -d "${LRS3}/${split}" ]; then
        die "LRS3 is not where the recipe looks for it: no ${LRS3}/${split}/.
LRS3 needs a license from its authors (https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrs3.html)
and cannot be downloaded by this recipe. Once you have it, put its trainval/ and test/ folders
(and pretrain/ for --use_pretrain true) under ${LRS3}, or set LRS3 (in the environment or in
db.sh) to the directory that holds them."
    fi
done

command -v ffmpeg >/dev/null || die "ffmpeg is not installed (apt-get install ffmpeg); it extracts the audio of the mp4 clips"

python3 -m espnet_ddp.tools.lrs3_data --wav_dir "${wav_dir}" --nj "${nj}" \
    --source_fs "${source_fs}" --allow_resample "${allow_resample}" \
    --dev_ratio "${dev_ratio}" --use_pretrain "${use_pretrain}" "${LRS3}" data \
    || die "data/{train,dev,test} were not written: fix the clips listed above in ${LRS3}" \
        "(or remove them) and rerun stage 1"
echo "$0: done: data/{train,dev,test}"
