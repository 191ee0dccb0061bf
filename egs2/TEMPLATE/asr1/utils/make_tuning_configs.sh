#!/usr/bin/env bash
# Writes a recipe's tuning grid, conf/tuning/train_asr_*.yaml, from its full-data baseline config.
# ESPnet's config loader has no include, so each variant is a whole file: the baseline's body (its
# header comment, up to the first blank line, replaced) plus the variant's own keys. Schedules in
# epochs scale with the baseline's max_epoch (drop warm-up 24% and anneal 16% of it, InfoBatch's
# full-data anneal 12.5%). The SpecAugment variants are written only when the baseline has a
# '# SpecAugment' block (its last block). The budget baselines, train_asr_budget<F>.yaml
# (F = 0.3, 0.5, 0.7, 0.8, 0.9, 1.0: points near every candidate's audio), are full data for F of
# max_epoch (rounded half up) with the fitted schedule (lr_fit: linear: the baseline's
# warm-up, then a linear decay to 0 at the run's last optimizer step); every pruning or dropping
# variant has an _lrfit twin on that schedule. After editing the baseline, rerun, from the recipe:
#     utils/make_tuning_configs.sh [BASE_YAML [OUT_DIR]]      # defaults: conf/train_asr.yaml conf/tuning
# Options, before BASE_YAML: --max_epoch N trains the grid for N epochs instead of the baseline's
# (schedules scale with N); --only "NAME ..." writes only those configs (names without .yaml).
set -euo pipefail

epochs_override=""
only=""
while [ $# -gt 0 ] && [[ "$1" == --* ]]; do
    case "$1" in
        --max_epoch|--only)
            [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
            if [ "$1" = --max_epoch ]; then epochs_override=$2; else only=" $2 "; fi
            shift 2
            ;;
        *) echo "$0: unknown option $1" >&2; exit 1 ;;
    esac
done
base=${1:-conf/train_asr.yaml}
out=${2:-conf/tuning}
[ -f "${base}" ] || { echo "$0: no such file: ${base}" >&2; exit 1; }
max_epoch=$(awk '$1 == "max_epoch:" { print $2 }' "${base}")
[[ "${max_epoch}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: ${base} has no max_epoch" >&2; exit 1; }
if [ -n "${epochs_override}" ]; then
    [[ "${epochs_override}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: --max_epoch ${epochs_override}: not an integer >= 1" >&2; exit 1; }
    max_epoch=${epochs_override}
fi
generated_with=""
[ -z "${epochs_override}" ] || generated_with="--max_epoch ${max_epoch} "
# wanted NAME: whether --only lets NAME be written
wanted() { [ -z "${only}" ] || [[ "${only}" == *" $1 "* ]]; }
# share_of_epochs FRACTION: that share of max_epoch, rounded half up (1e-9 absorbs binary
# fractions: 25 x 0.3 is 7.4999... in floating point)
share_of_epochs() { awk -v n="${max_epoch}" -v f="$1" 'BEGIN { printf "%d", n * f + 0.5 + 1e-9 }'; }
drop_warmup=$(share_of_epochs 0.24)
drop_anneal=$(share_of_epochs 0.16)
infobatch_anneal=$(share_of_epochs 0.125)
third=$(share_of_epochs 0.3333)
has_specaug=false
grep -q '^# SpecAugment' "${base}" && has_specaug=true
mkdir -p "${out}"

# The baseline without its header comment (the lines up to the first blank line).
body() {
    if [ -z "${epochs_override}" ]; then
        sed '1,/^$/d' "${base}"
    else
        sed '1,/^$/d' "${base}" | sed "s/^max_epoch: .*/max_epoch: ${max_epoch}/"
    fi
}
# The same without its SpecAugment block, which is the last block of the file.
body_without_specaug() { body | sed '/^# SpecAugment/,$d'; }

# The warmuplr variants keep the LR on its full-data trajectory per epoch; their _lrfit twins
# (lrfit=true) follow the fitted schedule instead, which contradicts lr_trajectory: epoch.
lrfit=false
epoch_trajectory() {
    if ! "${lrfit}"; then
        echo "    lr_trajectory: epoch      # warmuplr advances as in a full-data epoch: same LR at the same epoch"
    fi
}

# The fitted schedule: the last block of every _lrfit and budget config.
fitted_lr() {
    cat <<'EOF'

# espnet_ddp, the fitted schedule: the scheduler's warm-up (warmup_steps, in optimizer steps), then
# a linear decay to 0 at this run's last optimizer step, however many steps pruning leaves.
lr_fit: linear
EOF
}

# Instance-wise pruning: pruning STRATEGY KEEP_RATIO
pruning() {
    cat <<EOF

# espnet_ddp, instance-wise: after one warm-up epoch on all data (every utterance gets a score),
# each epoch trains $(awk -v r="$2" 'BEGIN { printf "%d", r * 100 }')% of the utterances, chosen by '$1'.
data_pruning: $1
data_pruning_conf:
    keep_ratio: $2
    warmup_epochs: 1
EOF
    epoch_trajectory
}

infobatch() {
    cat <<EOF

# espnet_ddp, InfoBatch: utterances scored below the mean are dropped with probability 0.5, the kept
# ones weigh 1 / (1 - 0.5) in the loss; the last ${infobatch_anneal} epochs (12.5% of ${max_epoch}) train on all data.
data_pruning: infobatch
data_pruning_conf:
    prune_prob: 0.5
    warmup_epochs: 1
    anneal_epochs: ${infobatch_anneal}
EOF
    epoch_trajectory
}

# Own design (docs/EVIDENCE.md, "The frontier"): Easy2hard keep 0.5 after one warm-up epoch, then
# full data for the last third of the epochs.
easy2hard_then_full() {
    cat <<EOF

# espnet_ddp, instance-wise: one warm-up epoch on all data, then Easy2hard keeps 50% of the
# utterances until the last ${third} epochs (a third of ${max_epoch}), which train on all data again.
data_pruning: easy2hard
data_pruning_conf:
    keep_ratio: 0.5
    warmup_epochs: 1
    anneal_epochs: ${third}
EOF
    epoch_trajectory
}

# No instance-wise pruning, but the LR stays on the full-data trajectory (time dropping makes
# fewer, shorter batches). Nothing on the fitted schedule, which follows progress anyway.
full_data_lr() {
    "${lrfit}" && return
    cat <<'EOF'

# espnet_ddp: every utterance every epoch; warmuplr advances as in a full-length epoch.
data_pruning: none
data_pruning_conf:
    lr_trajectory: epoch
EOF
}

# Time-wise dropping: drop MODE RATIO
drop() {
    local pct
    pct=$(awk -v r="$2" 'BEGIN { printf "%d", r * 100 }')
    echo
    case "$1" in
        chunk) echo "# espnet_ddp, time-wise: ${pct}% of every training waveform removed as 20 ms chunks." ;;
        point) echo "# espnet_ddp, time-wise: ${pct}% of every training waveform removed as single samples." ;;
        frames) echo "# espnet_ddp, time-wise: ${pct}% of every utterance's feature frames removed in blocks of one encoder frame." ;;
        tempo) echo "# espnet_ddp, time-wise: every training waveform played ${pct}% shorter (WSOLA, pitch kept)." ;;
    esac
    echo "time_drop: $1"
    echo "time_drop_conf:"
    echo "    drop_ratio: $2"
    if [ "$1" = chunk ]; then echo "    chunk_ms: 20"; fi
}
select_energy() { echo "    select: energy            # silence and pauses go first"; }
linear_decay() { echo "    drop_schedule: linear_decay   # the ratio falls to 0 by the last epoch"; }
by_score() { echo "    ratio_by_score: true      # easy utterances lose more, hard ones less, same mean"; }

# Full-length audio in the first and last epochs of a dropping run: drop_schedule WARMUP ANNEAL
drop_schedule() {
    echo "    warmup_epochs: $1     # full-length audio first: the CTC alignment is learned undisturbed"
    echo "    anneal_epochs: $2     # full-length audio last: training ends on the audio it is tested on"
}
drop_warmup_anneal() { drop_schedule "${drop_warmup}" "${drop_anneal}"; }

# SpecAugment with time masks only (the baseline's 5 masks of up to 5% each).
specaug_time_mask_only() {
    cat <<'EOF'
# SpecAugment with time masks only: 5 masks of up to 5% each; no time warp, no frequency mask.
specaug: specaug
specaug_conf:
    apply_time_warp: false
    apply_freq_mask: false
    apply_time_mask: true
    time_mask_width_ratio_range:
    - 0.0
    - 0.05
    num_time_mask: 5
EOF
}

no_specaug() {
    cat <<'EOF'
# No SpecAugment.
specaug: null
EOF
}

# write NAME DESCRIPTION BODY [BLOCK ...]: one config file; BODY and BLOCKs are commands. With
# lrfit=true: the _lrfit twin, NAME_lrfit.yaml, whose last block is the fitted schedule.
write() {
    local name=$1 description=$2 part
    shift 2
    if "${lrfit}"; then
        "${keep_name:-false}" || name="${name}_lrfit"
        description="${description} Fitted LR schedule."
    fi
    wanted "${name}" || return 0
    {
        echo "# ${description}"
        echo "# Generated by utils/make_tuning_configs.sh ${generated_with}from ${base} (edit that, then rerun)."
        echo
        for part in "$@"; do ${part}; done
        if "${lrfit}"; then fitted_lr; fi
    } >"${out}/${name}.yaml"
}

# budget FRACTION: full data for that share of max_epoch (at least 1), on the fitted schedule.
budget() {
    local epochs
    epochs=$(share_of_epochs "$1")
    [ "${epochs}" -ge 1 ] || epochs=1
    wanted "train_asr_budget$1" || return 0
    {
        echo "# Budget baseline: full data for ${epochs} of ${max_epoch} epochs ($1), fitted LR schedule."
        echo "# Generated by utils/make_tuning_configs.sh ${generated_with}from ${base} (edit that, then rerun)."
        echo
        body | sed "s/^max_epoch: .*/max_epoch: ${epochs}/"
        fitted_lr
    } >"${out}/train_asr_budget$1.yaml"
}
for fraction in 0.3 0.5 0.7 0.8 0.9 1.0; do budget "${fraction}"; done

# Every variant twice: on the baseline's schedule, then its _lrfit twin.
for lrfit in false true; do

write train_asr_e2h0.7 "Easy2hard, keep 0.7: the paper's instance-wise pruning." \
    body "pruning easy2hard 0.7"
write train_asr_e2h0.5 "Easy2hard, keep 0.5 (keep-ratio sweep)." \
    body "pruning easy2hard 0.5"
write train_asr_e2h0.9 "Easy2hard, keep 0.9 (keep-ratio sweep)." \
    body "pruning easy2hard 0.9"
write train_asr_random0.7 "Random 70% of the utterances each epoch (seeded)." \
    body "pruning random 0.7"
write train_asr_easy0.7 "The easiest 70% (lowest scores) each epoch." \
    body "pruning easy 0.7"
write train_asr_hard0.7 "The hardest 70% (highest scores) each epoch." \
    body "pruning hard 0.7"
write train_asr_infobatch "InfoBatch (prune below-mean scores at random, rescale, anneal)." \
    body infobatch
write train_asr_chunk0.3 "Chunk-wise time dropping 0.3 (20 ms chunks), all utterances." \
    body full_data_lr "drop chunk 0.3"
write train_asr_point0.3 "Point-wise time dropping 0.3 (single samples), all utterances." \
    body full_data_lr "drop point 0.3"
if "${has_specaug}"; then
    write train_asr_tmask "Time axis, masking only: SpecAugment time masks, full-length audio, no dropping." \
        body_without_specaug specaug_time_mask_only
    write train_asr_tdrop0.3 "Time axis, dropping only: 20 ms chunks 0.3, no SpecAugment." \
        body_without_specaug no_specaug full_data_lr "drop chunk 0.3"
    write train_asr_tmask_tdrop0.3 "Time axis, both: SpecAugment time masks and 20 ms chunks 0.3." \
        body_without_specaug specaug_time_mask_only full_data_lr "drop chunk 0.3"
fi
write train_asr_e2h0.7_chunk0.3 "Easy2hard keep 0.7 + 20 ms chunk dropping 0.3: the paper's combination." \
    body "pruning easy2hard 0.7" "drop chunk 0.3"
write train_asr_e2h0.7_chunk0.3_wa "Easy2hard 0.7 + 20 ms chunks 0.3, full-length audio in the first ${drop_warmup} and last ${drop_anneal} of ${max_epoch} epochs." \
    body "pruning easy2hard 0.7" "drop chunk 0.3" drop_warmup_anneal
write train_asr_e2h0.6 "Easy2hard, keep 0.6 (keep-ratio sweep)." \
    body "pruning easy2hard 0.6"
write train_asr_e2h0.7_frames0.3 "Easy2hard 0.7 + frame dropping 0.3 (blocks of one encoder frame, after the frontend)." \
    body "pruning easy2hard 0.7" "drop frames 0.3"
write train_asr_e2h0.7_tempo0.3 "Easy2hard 0.7 + tempo 0.3 (every kept utterance 30% shorter by WSOLA)." \
    body "pruning easy2hard 0.7" "drop tempo 0.3"
write train_asr_e2h0.7_energy0.3 "Easy2hard 0.7 + 20 ms chunks 0.3, the quietest chunks first." \
    body "pruning easy2hard 0.7" "drop chunk 0.3" select_energy
write train_asr_e2h0.7_chunk0.3_decay "Easy2hard 0.7 + 20 ms chunks, ratio falling linearly from 0.3 to 0." \
    body "pruning easy2hard 0.7" "drop chunk 0.3" linear_decay
write train_asr_e2h0.7_chunk0.3_byscore "Easy2hard 0.7 + 20 ms chunks 0.3 on average, more from easy utterances." \
    body "pruning easy2hard 0.7" "drop chunk 0.3" by_score
write train_asr_e2h0.5_then_full "Own design: Easy2hard keep 0.5, then full data for the last third of the epochs." \
    body easy2hard_then_full
done
# The pruning configuration to try (README, "Measured so far"; docs/EVIDENCE.md, "Comparisons that
# can decide"), on the fitted schedule: the best frontier ratios, not shown to beat training less.
lrfit=true
keep_name=true write train_asr_ddp_recommended "The pruning configuration to try (README, \"Measured so far\"): InfoBatch. Not a time saver: it matched training fewer epochs, not full data." \
    body infobatch
echo "$0: ${out} has $(ls "${out}"/train_asr_*.yaml | wc -l) configs"
