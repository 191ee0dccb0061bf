#!/usr/bin/env bash
# Stage 1 of the mini recipe: synthesizes a small multi-voice English corpus with espeak-ng and flite
# (our own sentence grammar; test voices never occur in training) into data/{train,dev,test_espeak,test_flite},
# and with --num_test_indomain N also data/test_indomain (training voices, held-out sentences: the set
# that decides; the held-out-voice sets are robustness columns). --sentences FILE reads the sentences
# from a file (one a line) instead of the grammar, e.g. ../../../../shared/data/text/sentences.txt.
set -euo pipefail

num_train=1200     # training utterances
num_dev=100        # validation utterances (training voices, new sentences)
num_test=60        # utterances per held-out-voice test set (held-out voices and sentences)
num_test_indomain=0  # utterances of test_indomain (training voices, held-out sentences); 0: none
sentences=""       # a sentence file instead of the built-in grammar
seed=0
nj=2
wav_dir=downloads/mini_wav

. utils/parse_options.sh
. ./path.sh

for b in espeak-ng flite; do
    command -v "${b}" >/dev/null || { echo "local/data.sh: ${b} is not installed (apt-get install ${b})" >&2; exit 1; }
done

extra=()
[ -n "${sentences}" ] && extra+=(--sentences "${sentences}")
python3 -m espnet_ddp.tools.synth_corpus --wav_dir "${wav_dir}" --data_root data \
    --num_train "${num_train}" --num_dev "${num_dev}" --num_test "${num_test}" \
    --num_test_indomain "${num_test_indomain}" --seed "${seed}" --nj "${nj}" "${extra[@]}"
sets=(data/train data/dev data/test_espeak data/test_flite)
[ "${num_test_indomain}" -gt 0 ] && sets+=(data/test_indomain)
python3 -m espnet_ddp.tools.validate_data_dir --fs 16000 "${sets[@]}"
