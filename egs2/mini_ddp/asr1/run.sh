#!/usr/bin/env bash
# Mini recipe: a synthesized multi-voice corpus (espeak-ng + flite, test voices held out), a small
# conformer trained twice -- full data (conf/train_asr_full.yaml, 22 epochs, to its valid-accuracy
# plateau) and the recommended configuration (conf/tuning/train_asr_ddp_recommended.yaml: Easy2hard
# keep 0.7) -- decoded, scored, and compared in one table (WER per test set, training wall time,
# optimizer steps, audio fed, speed-up, time to target). `make demo` runs it on 2 CPU cores.
# conf/tuning/ holds the mini lab's other variants (docs/EVIDENCE.md), e.g.
#   ./run.sh --stage 11 --asr_configs "conf/train_asr_full.yaml conf/tuning/train_asr_e2h0.5.yaml" --expdir exp_lab
#
#   ./run.sh                      # everything
#   ./run.sh --stage 10           # from statistics collection on (data already prepared)
#   ./run.sh --stage 12 --asr_configs conf/train_asr_full.yaml   # re-decode one experiment
#
# Options of this script: --stage, --stop_stage, --asr_configs (the experiments, in order; the
# first is the baseline of the comparison), --expdir. Every other option goes to asr.sh as it is.
set -euo pipefail

stage=1
stop_stage=13
asr_configs="conf/train_asr_full.yaml conf/tuning/train_asr_ddp_recommended.yaml"
expdir=exp
asr_sh_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --stage|--stop_stage|--asr_configs|--expdir)
            [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
            printf -v "${1#--}" '%s' "$2"
            shift 2
            ;;
        *) asr_sh_args+=("$1"); shift ;;
    esac
done

train_set=train
valid_set=dev
test_sets="test_espeak test_flite"

first=true
exp_dirs=()
for conf in ${asr_configs}; do
    [ -f "${conf}" ] || { echo "$0: no such --asr_configs entry: ${conf}" >&2; exit 1; }
    exp="${expdir}/asr_$(basename "${conf}" .yaml)"
    exp_dirs+=("${exp}")
    # Data preparation, tokens and statistics are shared: only the first experiment runs them.
    _stage=${stage}
    "${first}" || { [ "${_stage}" -ge 11 ] || _stage=11; }
    first=false
    [ "${_stage}" -le "${stop_stage}" ] || continue
    ./asr.sh \
        --stage "${_stage}" --stop_stage "${stop_stage}" \
        --train_set "${train_set}" --valid_set "${valid_set}" --test_sets "${test_sets}" \
        --expdir "${expdir}" --asr_exp "${exp}" --asr_config "${conf}" \
        --inference_config conf/decode_asr.yaml --inference_asr_model valid.acc.ave.pth \
        --ngpu 0 --nj 2 --inference_nj 2 \
        --token_type bpe --nbpe 50 --max_wav_duration 15 \
        ${asr_sh_args[@]+"${asr_sh_args[@]}"}
done

if [ "${stop_stage}" -ge 13 ]; then
    # The comparison: first experiment = baseline. Also written as JSON with PNG plots.
    . ./path.sh
    python3 -m espnet_ddp.bin.compare "${exp_dirs[@]}" \
        --json "${expdir}/comparison.json" --plots "${expdir}/comparison_plots" \
        | tee "${expdir}/COMPARISON.md"
fi
