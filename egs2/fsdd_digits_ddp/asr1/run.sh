#!/usr/bin/env bash
# Connected digits of real speech: utterances of 2-7 digits strung together from the Free Spoken Digit
# Dataset (one speaker each, natural pauses, 16 kHz), two speakers held out for the test set, and a
# small conformer trained on full data on CPUs, decoded and scored. Word tokens: the vocabulary is
# the ten digit names. Every option of asr.sh can be given after the ones below and overrides them:
#   ./run.sh                                                   # stages 1-13, full data
#   ./run.sh --stage 11 --asr_config conf/my_variant.yaml      # another training config
#   ./run.sh --local_data_opts "--num_train 500 --test_speakers lucas"   # another corpus
# Corpus location: db.sh (FSDD); stage 1 downloads the dataset when ${FSDD}/recordings is missing.
set -euo pipefail

train_set=train        # training speakers, clips 5-49
valid_set=dev          # training speakers, held-out clips 0-4
test_sets=test         # held-out speakers (local/data.sh --test_speakers)

asr_config=conf/train_asr_full.yaml
inference_config=conf/decode_asr.yaml

./asr.sh \
    --lang en \
    --ngpu 0 \
    --nj 2 \
    --inference_nj 2 \
    --gpu_inference false \
    --audio_format flac \
    --max_wav_duration 15 \
    --token_type word \
    --use_lm false \
    --feats_normalize global_mvn \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    --inference_asr_model valid.acc.ave.pth \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    "$@"
