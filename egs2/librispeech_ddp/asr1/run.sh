#!/usr/bin/env bash
# LibriSpeech-100 with dynamic data pruning (espnet_ddp): conformer CTC/attention, BPE 5000, speed
# perturbation, no LM. Every option of asr.sh can be given after the ones below and overrides them:
#   ./run.sh                                                      # full-data baseline, stages 1-13
#   ./run.sh --stage 11 --asr_config conf/tuning/train_asr_e2h0.7_chunk0.3.yaml  # another variant
#   ./run.sh --ngpu 0 --gpu_inference false --inference_config conf/decode_asr_cpu.yaml  # CPU only
# Corpus location: db.sh (LIBRISPEECH); stage 1 downloads missing subsets from OpenSLR.
set -euo pipefail

train_set=train_clean_100      # train_960 with --local_data_opts "--train_960 true"
valid_set=dev                  # dev-clean + dev-other
test_sets="test_clean test_other dev_clean dev_other"

# The full-data baseline. The paper's grid is in conf/tuning/ (table in README.md):
#   Easy2hard keep 0.7 / 0.5 / 0.9:   train_asr_e2h0.7.yaml, train_asr_e2h0.5.yaml, train_asr_e2h0.9.yaml
#   other strategies at keep 0.7:     train_asr_random0.7.yaml, train_asr_easy0.7.yaml, train_asr_hard0.7.yaml
#   InfoBatch:                        train_asr_infobatch.yaml
#   time dropping 0.3:                train_asr_chunk0.3.yaml (20 ms chunks), train_asr_point0.3.yaml
#   masking vs dropping:              train_asr_tmask.yaml, train_asr_tdrop0.3.yaml, train_asr_tmask_tdrop0.3.yaml
#   Easy2hard 0.7 + chunks 0.3:       train_asr_e2h0.7_chunk0.3.yaml
#     ... with full-length audio in the first 18 and last 12 epochs: train_asr_e2h0.7_chunk0.3_wa.yaml
asr_config=conf/train_asr.yaml
inference_config=conf/decode_asr.yaml   # beam 10, CTC weight 0.3

./asr.sh \
    --lang en \
    --ngpu 1 \
    --nj 32 \
    --gpu_inference true \
    --inference_nj 4 \
    --audio_format flac \
    --max_wav_duration 30 \
    --speed_perturb_factors "0.9 1.0 1.1" \
    --token_type bpe \
    --nbpe 5000 \
    --bpemode unigram \
    --use_lm false \
    --feats_normalize global_mvn \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    --inference_asr_model valid.acc.ave.pth \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    "$@"
