#!/usr/bin/env bash
# Stage 1 of the FSDD recipe: connected-digit utterances built from the Free Spoken Digit Dataset
# (real speech: 6 speakers, 50 clips of each digit per speaker, 8 kHz) by espnet_ddp.tools.fsdd_data:
#   data/train   2-7 digits of one training speaker per utterance, clips 5-49 (FSDD's training part)
#   data/dev     the training speakers' held-out clips 0-4 (the validation set)
#   data/test    the --test_speakers, never heard in training
# Pauses of 50-300 ms (the speaker's own noise floor) before, between and after the digits; nothing
# is trimmed; 16 kHz flac under --wav_dir. The same options and --seed give the same corpus.
# The corpus is read from ${FSDD}/recordings (db.sh); when it is missing, the dataset's GitHub
# archive is downloaded and unpacked there. A clip that is missing, unreadable or empty stops the
# stage, named in the report.
set -euo pipefail

num_train=1200               # training utterances
num_dev=200                  # validation utterances
num_test=300                 # test utterances
test_speakers=jackson,theo   # held-out speakers (comma-separated); the others train
dev_max_index=4              # clips 0..N of the training speakers are the dev set's
min_digits=2                 # digits per utterance, uniform in [min_digits, max_digits]
max_digits=7
min_pause_ms=50              # pauses, uniform in [min_pause_ms, max_pause_ms]
max_pause_ms=300
seed=0
wav_dir=downloads/fsdd_wav   # where the composed utterances are written
download=true                # false: never download, stop if ${FSDD}/recordings is missing
data_url=https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.tar.gz
keep_archive=false           # keep the downloaded archive after unpacking

help_message="Usage: $0 [--num_train 1200] [--num_dev 200] [--num_test 300] [--test_speakers jackson,theo]
    [--dev_max_index 4] [--min_digits 2] [--max_digits 7] [--min_pause_ms 50] [--max_pause_ms 300]
    [--seed 0] [--wav_dir downloads/fsdd_wav] [--download true] [--data_url URL] [--keep_archive false]"
. utils/parse_options.sh
[ $# -eq 0 ] || { echo "$0: unexpected arguments: $*" >&2; exit 1; }
. ./path.sh
. ./db.sh

die() {
    echo -e "$0: ERROR: $*" >&2
    exit 1
}
for b in download keep_archive; do
    case "${!b}" in true|false) ;; *) die "--${b} must be true or false: ${!b}" ;; esac
done

where_to_put() {
    echo "Put the corpus there yourself: download ${data_url}"
    echo "(or clone https://github.com/Jakobovski/free-spoken-digit-dataset) and copy its recordings/"
    echo "folder into ${FSDD}, or set FSDD (in the environment or in db.sh) to the folder that holds recordings/."
}

fetch() {  # fetch URL FILE
    if command -v wget >/dev/null; then
        wget --no-verbose --tries 3 -O "$2" "$1"
    elif command -v curl >/dev/null; then
        curl --fail --location --retry 3 --silent --show-error -o "$2" "$1"
    else
        echo "neither wget nor curl is installed" >&2
        return 1
    fi
}

# Downloads the archive and moves its recordings/ to ${FSDD}/recordings, which appears only once
# it is complete.
get_corpus() {
    local archive="${FSDD}/fsdd.tar.gz" tmp="${FSDD}/.extract" rec f
    mkdir -p "${FSDD}"
    if [ ! -s "${archive}" ]; then
        echo "$0: downloading ${data_url} -> ${archive}"
        if ! fetch "${data_url}" "${archive}.part"; then
            rm -f "${archive}.part"
            die "FSDD is not in ${FSDD}/recordings and its download from ${data_url} failed.\n$(where_to_put)"
        fi
        mv "${archive}.part" "${archive}"
    fi
    echo "$0: unpacking ${archive}"
    rm -rf "${tmp}"
    mkdir -p "${tmp}"
    if ! tar -xzf "${archive}" -C "${tmp}"; then
        rm -rf "${tmp}"
        die "could not unpack ${archive} (incomplete download? delete it and rerun).\n$(where_to_put)"
    fi
    # GitHub archives hold one top folder (free-spoken-digit-dataset-<ref>/recordings/).
    rec=$(find "${tmp}" -mindepth 1 -maxdepth 2 -type d -name recordings | head -n 1)
    [ -n "${rec}" ] || { rm -rf "${tmp}"; die "${archive} holds no recordings/ folder.\n$(where_to_put)"; }
    for f in README.md LICENSE metadata.py; do
        if [ -f "$(dirname "${rec}")/${f}" ]; then cp "$(dirname "${rec}")/${f}" "${FSDD}/"; fi
    done
    mv "${rec}" "${FSDD}/recordings"
    rm -rf "${tmp}"
    "${keep_archive}" || rm -f "${archive}"
}

if [ ! -d "${FSDD}/recordings" ]; then
    "${download}" || die "FSDD is not in ${FSDD}/recordings (--download false).\n$(where_to_put)"
    get_corpus
fi

python3 -m espnet_ddp.tools.fsdd_data "${FSDD}" data --wav_dir "${wav_dir}" \
    --num_train "${num_train}" --num_dev "${num_dev}" --num_test "${num_test}" \
    --test_speakers "${test_speakers}" --dev_max_index "${dev_max_index}" \
    --min_digits "${min_digits}" --max_digits "${max_digits}" \
    --min_pause_ms "${min_pause_ms}" --max_pause_ms "${max_pause_ms}" --seed "${seed}" --fs 16000 \
    || die "no data directory was written: fix the corpus in ${FSDD} (report above) and rerun stage 1"
python3 -m espnet_ddp.tools.validate_data_dir --fs 16000 data/train data/dev data/test
echo "$0: done"
