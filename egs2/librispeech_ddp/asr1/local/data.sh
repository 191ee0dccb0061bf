#!/usr/bin/env bash
# Stage 1 of the LibriSpeech recipe: LibriSpeech subsets -> Kaldi-style data directories
#   data/train_clean_100   train-clean-100
#   data/train_960         train-clean-100 + train-clean-360 + train-other-500 (--train_960 true;
#                          also data/train_clean_360, data/train_other_500)
#   data/dev               dev-clean + dev-other (the validation set)
#   data/dev_clean, data/dev_other, data/test_clean, data/test_other
# The corpus is read from ${LIBRISPEECH}/LibriSpeech (db.sh). A subset missing there is downloaded
# from OpenSLR (resource 12) and extracted in place. Utterances with a missing or unreadable flac,
# an empty transcript or a sampling rate other than --fs stop the stage, each named in the report.
set -euo pipefail

train_960=false                               # also prepare data/train_960
download=true                                 # false: never download, stop if a subset is missing
data_url=https://www.openslr.org/resources/12 # <data_url>/<subset>.tar.gz (or a mirror)
keep_archives=false                           # keep the downloaded .tar.gz after extraction
fs=16000                                      # expected sampling rate of the flac files

help_message="Usage: $0 [--train_960 false] [--download true] [--data_url URL] [--keep_archives false] [--fs 16000]"
. utils/parse_options.sh
[ $# -eq 0 ] || { echo "$0: unexpected arguments: $*" >&2; exit 1; }
. ./path.sh
. ./db.sh

die() {
    echo -e "$0: ERROR: $*" >&2
    exit 1
}
for b in train_960 download keep_archives; do
    case "${!b}" in true|false) ;; *) die "--${b} must be true or false: ${!b}" ;; esac
done

corpus="${LIBRISPEECH}/LibriSpeech"
subsets="train-clean-100 dev-clean dev-other test-clean test-other"
"${train_960}" && subsets+=" train-clean-360 train-other-500"

where_to_put() {
    echo "Put the corpus there yourself: download <subset>.tar.gz from https://www.openslr.org/12 and"
    echo "extract it under ${LIBRISPEECH} (it unpacks to LibriSpeech/<subset>/<speaker>/<chapter>/), or"
    echo "set LIBRISPEECH (in the environment or in db.sh) to the directory that holds LibriSpeech/."
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

# Downloads and extracts one subset; the subset directory appears only once it is complete.
get_subset() {
    local subset=$1 archive="${LIBRISPEECH}/$1.tar.gz" tmp="${LIBRISPEECH}/.extract_$1" f
    mkdir -p "${LIBRISPEECH}"
    if [ ! -s "${archive}" ]; then
        echo "$0: downloading ${data_url}/${subset}.tar.gz -> ${archive}"
        if ! fetch "${data_url}/${subset}.tar.gz" "${archive}.part"; then
            rm -f "${archive}.part"
            die "LibriSpeech ${subset} is not in ${corpus}/${subset} and its download from" \
                "${data_url}/${subset}.tar.gz failed.\n$(where_to_put)"
        fi
        mv "${archive}.part" "${archive}"
    fi
    echo "$0: extracting ${archive}"
    rm -rf "${tmp}"
    mkdir -p "${tmp}"
    if ! tar -xzf "${archive}" -C "${tmp}"; then
        rm -rf "${tmp}"
        die "could not extract ${archive} (incomplete download? delete it and rerun).\n$(where_to_put)"
    fi
    [ -d "${tmp}/LibriSpeech/${subset}" ] || die "${archive} holds no LibriSpeech/${subset}/.\n$(where_to_put)"
    mkdir -p "${corpus}"
    # README.TXT, SPEAKERS.TXT, CHAPTERS.TXT, LICENSE.TXT come with every subset.
    for f in "${tmp}"/LibriSpeech/*; do
        if [ -f "${f}" ] && [ ! -e "${corpus}/$(basename "${f}")" ]; then cp "${f}" "${corpus}/"; fi
    done
    mv "${tmp}/LibriSpeech/${subset}" "${corpus}/${subset}"
    rm -rf "${tmp}"
    "${keep_archives}" || rm -f "${archive}"
}

for subset in ${subsets}; do
    [ -d "${corpus}/${subset}" ] && continue
    "${download}" || die "LibriSpeech ${subset} is not in ${corpus}/${subset} (--download false).\n$(where_to_put)"
    get_subset "${subset}"
done

# One data directory per subset, each by espnet_ddp.tools.librispeech_data, which checks every
# utterance. All subsets are checked before stopping, so one run reports every broken utterance.
failed=()
for subset in ${subsets}; do
    python3 -m espnet_ddp.tools.librispeech_data --fs "${fs}" "${corpus}/${subset}" "data/${subset//-/_}" \
        || failed+=("${corpus}/${subset}")
done
if [ ${#failed[@]} -gt 0 ]; then
    die "no data directory was written for ${failed[*]}: fix the utterances listed above" \
        "(or remove them from their *.trans.txt) and rerun stage 1"
fi

# combine DST SRC...: the union of checked data directories (LibriSpeech ids are unique).
combine() {
    local dst=$1 f s
    shift
    mkdir -p "${dst}"
    for f in wav.scp text utt2spk; do
        for s in "$@"; do cat "${s}/${f}"; done | LC_ALL=C sort -k1,1 >"${dst}/${f}"
    done
    awk '{ utts[$2] = utts[$2] " " $1 } END { for (s in utts) print s utts[s] }' "${dst}/utt2spk" \
        | LC_ALL=C sort -k1,1 >"${dst}/spk2utt"
    echo "$0: $(wc -l <"${dst}/wav.scp") utterances -> ${dst} (${*})"
}
combine data/dev data/dev_clean data/dev_other
if "${train_960}"; then
    combine data/train_960 data/train_clean_100 data/train_clean_360 data/train_other_500
fi
echo "$0: done"
