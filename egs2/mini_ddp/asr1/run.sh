#!/usr/bin/env bash
# Mini recipe: a synthesized multi-voice corpus (espeak-ng + flite, test voices held out), a small
# conformer trained three times for 12 epochs (conf/demo/, written by utils/make_tuning_configs.sh
# --max_epoch 12 from conf/train_asr_full.yaml) -- full data (train_asr_budget1.0) and full data
# for 8 epochs (train_asr_budget0.7), both with the fitted LR schedule (lr_fit: linear), and the
# recommended pruning configuration (train_asr_ddp_recommended) -- decoded, scored, and compared
# in one table: WER per test set, wall time, optimizer steps, audio fed, and the frontier ratio
# (audio the two full-data runs' curve needs for the pruned run's result / audio it fed; above 1:
# pruning beat training fewer epochs). `make demo` runs it on 2 CPU cores.
# conf/tuning/ holds the mini lab's grid at 30 epochs (docs/EVIDENCE.md), e.g.
#   ./run.sh --stage 11 --asr_configs "conf/train_asr_full.yaml conf/tuning/train_asr_e2h0.5.yaml" --expdir exp_lab
#
#   ./run.sh                      # everything
#   ./run.sh --stage 10           # from statistics collection on (data already prepared)
#   ./run.sh --stage 12 --asr_configs conf/demo/train_asr_budget1.0.yaml   # re-decode one experiment
#
# Options of this script: --stage, --stop_stage, --asr_configs (the experiments, in order; the
# first is the baseline of the comparison), --expdir, --parallel_train (default true: stage 11 of
# every experiment at the same time, one thread each; false: one after another with asr.sh's
# threads). Every other option goes to asr.sh as it is, after this script's own.
# Small trainings at one thread each use 2 cores better than one at two threads (19 s against
# 32 s for two epochs here); the wall times are then measured while sharing the machine, and the
# longest run has it alone once the shorter ones end, which understates their speed-up.
set -euo pipefail

stage=1
stop_stage=13
asr_configs="conf/demo/train_asr_budget1.0.yaml conf/demo/train_asr_budget0.7.yaml conf/demo/train_asr_ddp_recommended.yaml"
expdir=exp
parallel_train=true
asr_sh_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --stage|--stop_stage|--asr_configs|--expdir|--parallel_train)
            [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
            printf -v "${1#--}" '%s' "$2"
            shift 2
            ;;
        *) asr_sh_args+=("$1"); shift ;;
    esac
done
case "${parallel_train}" in
    true|false) ;;
    *) echo "$0: --parallel_train must be true or false: ${parallel_train}" >&2; exit 1 ;;
esac

train_set=train
valid_set=dev
test_sets="test_espeak test_flite"

read -r -a confs <<<"${asr_configs}"
[ "${#confs[@]}" -gt 0 ] || { echo "$0: --asr_configs is empty" >&2; exit 1; }
exp_dirs=()
for conf in "${confs[@]}"; do
    [ -f "${conf}" ] || { echo "$0: no such --asr_configs entry: ${conf}" >&2; exit 1; }
    exp_dirs+=("${expdir}/asr_$(basename "${conf}" .yaml)")
done

# run_asr INDEX FROM TO [ASR_SH_OPTION ...]: stages FROM-TO of experiment INDEX.
run_asr() {
    local i=$1 from=$2 to=$3
    shift 3
    ./asr.sh \
        --stage "${from}" --stop_stage "${to}" \
        --train_set "${train_set}" --valid_set "${valid_set}" --test_sets "${test_sets}" \
        --expdir "${expdir}" --asr_exp "${exp_dirs[i]}" --asr_config "${confs[i]}" \
        --inference_config conf/decode_asr.yaml --inference_asr_model valid.acc.ave.pth \
        --ngpu 0 --nj 2 --inference_nj 2 \
        --lang en --use_lm false --token_type bpe --nbpe 50 --max_wav_duration 15 \
        "$@" ${asr_sh_args[@]+"${asr_sh_args[@]}"}
}

# Stages 1-10 (data, tokens, statistics) are shared: they run with the first experiment.
if [ "${stage}" -le 10 ]; then
    run_asr 0 "${stage}" "$(( stop_stage < 10 ? stop_stage : 10 ))"
fi

# Stage 11, training: every experiment.
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
    if "${parallel_train}" && [ "${#confs[@]}" -gt 1 ]; then
        mkdir -p "${expdir}"
        pids=()
        logs=()
        for i in "${!confs[@]}"; do
            logs+=("${expdir}/stage11_$(basename "${exp_dirs[i]}").log")
            echo "$0: training ${exp_dirs[i]} (one thread; log: ${logs[i]})" >&2
            run_asr "${i}" 11 11 --train_omp_threads 1 >"${logs[i]}" 2>&1 &
            pids+=($!)
        done
        failed=0
        for i in "${!pids[@]}"; do
            wait "${pids[i]}" && continue
            failed=1
            echo "$0: training ${exp_dirs[i]} failed; the end of ${logs[i]}:" >&2
            tail -n 30 "${logs[i]}" >&2
        done
        [ "${failed}" -eq 0 ] || exit 1
    else
        for i in "${!confs[@]}"; do run_asr "${i}" 11 11; done
    fi
fi

# Stages 12-13, decoding and scoring: one experiment after another.
if [ "${stop_stage}" -ge 12 ]; then
    for i in "${!confs[@]}"; do run_asr "${i}" "$(( stage > 12 ? stage : 12 ))" "${stop_stage}"; done
fi

if [ "${stop_stage}" -ge 13 ]; then
    # The comparison: first experiment = baseline. Also written as JSON with PNG plots.
    . ./path.sh
    python3 -m espnet_ddp.bin.compare "${exp_dirs[@]}" \
        --json "${expdir}/comparison.json" --plots "${expdir}/comparison_plots" \
        | tee "${expdir}/COMPARISON.md"
fi
