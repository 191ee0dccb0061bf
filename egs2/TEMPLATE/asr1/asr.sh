#!/usr/bin/env bash
# ESPnet2-style ASR recipe driver for espnet_ddp: stages 1-13, as in ESPnet's egs2/TEMPLATE/asr1.
# Run it from a recipe directory (egs2/<corpus>/asr1) through that recipe's run.sh.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}
die() {
    log "ERROR: $*"
    exit 1
}
min() {
    local a b
    a=$1
    for b in "$@"; do [ "${b}" -lt "${a}" ] && a=${b}; done
    echo "${a}"
}
SECONDS=0

# Options. Every option name of ESPnet's egs2/TEMPLATE/asr1/asr.sh exists here with ESPnet's default
# (docs/ASR_SH_OPTIONS.md): each is either honoured, or accepted only at ESPnet's default value (the
# check before stage 1 stops, naming it, otherwise). The options marked "(ours)" are not ESPnet's.

# General configuration
stage=1                  # First stage to run.
stop_stage=10000         # Last stage to run (13 is the last stage here; ESPnet's 14-16 pack and upload).
skip_data_prep=false     # Skip stages 1-5.
skip_train=false         # Skip stages 6-11.
skip_eval=false          # Skip stages 12-13.
skip_upload=true         # ESPnet's stage 15 (Zenodo upload): not implemented, must stay true.
skip_upload_hf=true      # ESPnet's stage 16 (Hugging Face upload): not implemented, must stay true.
ngpu=1                   # GPUs (0: CPU). N > 1 trains with torch.distributed, one process per GPU.
num_nodes=1              # Nodes for distributed training.
num_procs=1              # (ours) CPU only (--ngpu 0): N > 1 trains N processes through torchrun (gloo).
train_omp_threads=auto   # (ours) OMP_NUM_THREADS of each training process; auto: cores / processes.
nj=32                    # Parallel jobs for data preparation and statistics.
inference_nj=32          # Parallel jobs for decoding.
gpu_inference=false      # Decode on GPU (checked before stage 1; see --help).
dumpdir=dump             # Formatted features and audio.
expdir=exp               # Experiments.
python=python3           # Python interpreter.
debug=false              # ESPnet's pdb mode: not implemented, must stay false.
train_module=espnet_ddp.bin.asr_train  # (ours) Training entry point (stock: espnet2.bin.asr_train).

# Data preparation
local_data_opts=""       # Options for local/data.sh.
speed_perturb_factors="" # e.g. "0.9 1.0 1.1"; empty: no speed perturbation.

# Feature extraction
feats_type=raw           # raw only (ESPnet's fbank_pitch / fbank / extracted need Kaldi).
audio_format=flac        # flac, wav, flac.ark or wav.ark, for dump/raw.
fs=16k                   # Sampling rate of dump/raw.
min_wav_duration=0.1     # Shorter utterances are removed (seconds).
max_wav_duration=20      # Longer utterances are removed (seconds).

# Tokenization
token_type=bpe           # bpe, char or word (ESPnet's phn and hugging_face are not supported).
nbpe=30                  # Sentencepiece vocabulary size.
bpemode=unigram          # unigram or bpe.
oov="<unk>"              # Out-of-vocabulary symbol of the token list.
blank="<blank>"          # CTC blank symbol (first in the token list).
sos_eos="<sos/eos>"      # sos/eos symbol (last in the token list).
bpe_input_sentence_size=100000000  # Sentences sentencepiece reads at most.
bpe_nlsyms=""            # Symbols sentencepiece keeps whole: "a,b" or a file, one per line.
bpe_char_cover=1.0       # Character coverage of sentencepiece.
hugging_face_model_name_or_path=""  # token_type hugging_face: not supported, must stay empty.

# N-gram LM (ESPnet's stage 9, KenLM): not implemented, these must stay at ESPnet's defaults.
use_ngram=false
ngram_exp=""
ngram_num=3

# Language model (stages 6-8: espnet2.bin.lm_train; shallow fusion in stage 12)
use_lm=true              # Train an LM and decode with it (our recipes pass --use_lm false).
lm_tag=""                # Suffix of the LM directory (default: from --lm_config).
lm_exp=""                # LM directory (default: ${expdir}/lm_${lm_tag}).
lm_stats_dir=""          # LM statistics directory (default: ${expdir}/lm_stats_[${lang}_]${token_type}).
lm_config=""             # LM training configuration (YAML; empty: espnet2.bin.lm_train's defaults).
lm_args=""               # Extra LM training arguments.
use_word_lm=false        # Word LM: ESPnet stops with "not supported yet" too; must stay false.
num_splits_lm=1          # Splitting the LM corpus: not implemented, must stay 1.
word_vocab_size=10000    # Word LM vocabulary; used only with --use_word_lm true (as in ESPnet).

# ASR model
asr_task=asr             # Only asr (asr_transducer etc. are other tasks than the plugin's).
asr_tag=""               # Suffix of the experiment directory (default: from the config name).
asr_exp=""               # Experiment directory (default: ${expdir}/asr_${asr_tag}).
asr_stats_dir=""         # Statistics directory (default: ${expdir}/asr_stats_raw_[${lang}_]${token_type}).
asr_config=""            # Training configuration (YAML).
asr_args=""              # Extra training arguments, e.g. "--max_epoch 2".
cooldown_budgets=""      # e.g. "0.3 0.5 0.7": train with lr_fit wsd, then a cooldown branch per budget (ours)
cooldown_decay_share=0.2 # the share of each run's epochs that decays (lr_fit_conf decay_share; ours)
pretrained_model=""      # --init_param of stage 11 (e.g. "exp/x/valid.acc.ave.pth:encoder:encoder").
ignore_init_mismatch=false  # --ignore_init_mismatch of stage 11.
feats_normalize=global_mvn  # global_mvn: stage 10's statistics; other values: the config's normalize.
num_splits_asr=1         # Splitting the training set: not implemented, must stay 1.
num_ref=1                # Multi-speaker references: not implemented, must stay 1.
num_inf=""               # Multi-speaker hypotheses: not implemented, must stay empty (or 1).
asr_speech_fold_length=800  # --fold_length of speech for folded batches, in frames (x100 for raw audio).
asr_text_fold_length=150    # --fold_length of text for folded batches, in tokens.

# Upload (not implemented)
hf_repo=""

# Decoding
use_k2=false             # k2 decoding: not implemented; it and its options stay at ESPnet's defaults.
k2_ctc_decoding=true
use_nbest_rescoring=true
num_paths=1000
nll_batch_size=100
k2_config=./conf/decode_asr_transformer_with_k2.yaml
use_streaming=false      # Streaming decoding: not implemented, must stay false.
use_maskctc=false        # Mask-CTC decoding: not implemented, must stay false.
batch_size=1             # --batch_size of espnet2.bin.asr_inference.
inference_tag=""         # Suffix of the decoding directory.
inference_config=""      # Decoding configuration (YAML).
inference_args=""        # Extra decoding arguments.
inference_lm=valid.loss.ave.pth        # LM model file of ${lm_exp} for shallow fusion (and perplexity).
inference_ngram=${ngram_num}gram.bin   # N-gram model: not implemented, must stay at the default.
inference_asr_model=valid.acc.ave.pth  # Model file of ${asr_exp} used for decoding.
download_model=""        # Model zoo download: not implemented (no network), must stay empty.
eval_sample_rates=""     # (ours) e.g. "8000 11025": also decode test sets resampled to these rates.
eval_resample_modes="asis back"  # (ours) asis: keep the new rate; back: resample back to ${fs}.
scorer=auto              # (ours) auto (sclite when installed, else Python), sclite or python.

# Data sets and texts
train_set=""
valid_set=""
test_sets=""
bpe_train_text=""        # Text(s) sentencepiece learns from (default: the training set's text).
lm_train_text=""         # Text(s) of LM training and of the char/word token list (default: training text).
lm_dev_text=""           # LM validation text (default: the validation set's text).
lm_test_text=""          # Perplexity text of stage 8 (default: the first test set's text).
nlsyms_txt=none          # Non-linguistic symbols, one per line (e.g. <NOISE>): kept whole as tokens,
                         # and removed from references and hypotheses before scoring.
cleaner=none             # ESPnet text cleaner (tacotron, whisper_en, ...) for tokens and references.
g2p=none                 # Only with token_type phn (not supported): must stay none.
lang=noinfo              # Tag of the token list, statistics and experiment directories.
score_opts=""            # Extra options of sclite (stage 13; needs sclite).
local_score_opts=""      # Options of local/score.sh, run after scoring when it exists.
lm_fold_length=150       # --fold_length of LM training.

help_message=$(cat <<EOF
Usage: $0 --train_set <name> --valid_set <name> --test_sets "<names>" [options]

Stages: 1 data (local/data.sh), 2 speed perturbation, 3 format audio (dump/raw), 4 length filter
(what it removes: dump/raw/<set>/dropped_utts), 5 token list, 6-8 language model (--use_lm true:
statistics, training, perplexity), 10 statistics (after a check of the dumps' audio at --fs),
11 training, 12 decoding (with the LM when --use_lm true), 13 scoring (RESULTS.md in the experiment
directory). Every option of ESPnet's asr.sh is accepted; the ones this driver does not implement
only at ESPnet's default (docs/ASR_SH_OPTIONS.md).

Options (defaults in brackets):
  --stage (${stage}) --stop_stage (${stop_stage}) --skip_data_prep (${skip_data_prep})
  --skip_train (${skip_train}) --skip_eval (${skip_eval})
  --ngpu (${ngpu}) --num_nodes (${num_nodes}) --num_procs (${num_procs}, CPU torchrun processes)
  --train_omp_threads (${train_omp_threads}): OMP_NUM_THREADS of each stage 11 process; auto gives the
      training job this machine's cores, shared by its processes (--num_procs, or --ngpu N > 1):
      max(1, cores / processes); 1 with cmd_backend=slurm (the job runs elsewhere: give a number).
      The other jobs run in parallel with OMP_NUM_THREADS=1 (path.sh).
  --nj (${nj}) --inference_nj (${inference_nj}) --gpu_inference (${gpu_inference}): when stage 12 will
      run, CUDA is checked before stage 1 (local jobs only); without it asr.sh stops at once, or,
      with --ngpu 0, warns and decodes on the CPU
  --dumpdir (${dumpdir}) --expdir (${expdir}) --python (${python}) --train_module (${train_module})
  --local_data_opts, --speed_perturb_factors, --feats_type (${feats_type}, the only one)
  --audio_format (${audio_format}: flac, wav, flac.ark, wav.ark) --fs (${fs})
  --min_wav_duration (${min_wav_duration}) --max_wav_duration (${max_wav_duration})
  --token_type (${token_type}: bpe, char, word) --nbpe (${nbpe}) --bpemode (${bpemode})
  --oov (${oov}) --blank (${blank}) --sos_eos (${sos_eos}) --bpe_input_sentence_size
  --bpe_nlsyms --bpe_char_cover (${bpe_char_cover}) --nlsyms_txt (${nlsyms_txt}) --cleaner (${cleaner})
  --lang (${lang}; noinfo: data/token_list, otherwise data/<lang>_token_list)
  --bpe_train_text --lm_train_text --lm_dev_text --lm_test_text (default: the data sets' texts)
  --use_lm (${use_lm}) --lm_config --lm_args --lm_tag --lm_exp --lm_stats_dir
  --lm_fold_length (${lm_fold_length}) --inference_lm (${inference_lm})
  --asr_config --asr_args --asr_tag --asr_exp --asr_stats_dir --feats_normalize (${feats_normalize})
  --cooldown_budgets ("${cooldown_budgets}": budgets such as "0.3 0.5 0.7": stage 11 trains with
      --lr_fit wsd and keeps the states the branches need, then trains each budget's cooldown branch
      into <asr_exp>_budget<B>; stages 12-13 decode and score every branch too)
  --cooldown_decay_share (${cooldown_decay_share}: the share of each run's epochs that decays)
  --pretrained_model --ignore_init_mismatch (${ignore_init_mismatch})
  --asr_speech_fold_length (${asr_speech_fold_length}, frames; x100 samples for raw audio)
  --asr_text_fold_length (${asr_text_fold_length}, tokens): ESPnet's --fold_length of the two shape
      files: batch_type folded (ESPnet's default) divides --batch_size by 1 + length / fold length
  --inference_config --inference_args --inference_tag --inference_asr_model (${inference_asr_model})
  --batch_size (${batch_size}) --score_opts (sclite) --local_score_opts (local/score.sh)
  --eval_sample_rates ("") --eval_resample_modes (${eval_resample_modes}) --scorer (${scorer})
  --train_set --valid_set --test_sets
EOF
)

log "$0 $*"
run_args=$(printf '%q ' "$0" "$@")
. utils/parse_options.sh

[ $# -eq 0 ] || die "unexpected positional arguments: $*"
[ -f ./path.sh ] || die "run me from a recipe directory (no ./path.sh in $(pwd))"
[ -f ./cmd.sh ] || die "run me from a recipe directory (no ./cmd.sh in $(pwd))"
. ./path.sh
. ./cmd.sh

[ -n "${train_set}" ] || die "--train_set is required"
[ -n "${valid_set}" ] || die "--valid_set is required"
[ -n "${test_sets}" ] || die "--test_sets is required"

# ESPnet's options that this driver does not implement: accepted at ESPnet's default value only.
# require_default NAME DEFAULT WHY
require_default() {
    local name=$1 default=$2 why=$3
    [ "${!name}" = "${default}" ] \
        || die "--${name} ${!name}: not supported by this asr.sh (${why}); only ESPnet's default" \
            "'${default}' is accepted (docs/ASR_SH_OPTIONS.md)"
}
require_default skip_upload true "ESPnet's stage 15, the Zenodo upload, is not implemented"
require_default skip_upload_hf true "ESPnet's stage 16, the Hugging Face upload, is not implemented"
require_default hf_repo "" "ESPnet's stage 16, the Hugging Face upload, is not implemented"
require_default debug false "the pdb debug mode is not implemented"
require_default hugging_face_model_name_or_path "" "token_type hugging_face is not supported"
require_default use_ngram false "ESPnet's stage 9, the KenLM n-gram, is not implemented"
require_default ngram_exp "" "the n-gram LM (--use_ngram) is not implemented"
require_default ngram_num 3 "the n-gram LM (--use_ngram) is not implemented"
require_default inference_ngram 3gram.bin "the n-gram LM (--use_ngram) is not implemented"
require_default use_word_lm false "word LMs are not supported (ESPnet's asr.sh refuses them too)"
require_default num_splits_lm 1 "splitting the LM corpus is not implemented"
require_default num_splits_asr 1 "splitting the training set is not implemented"
require_default asr_task asr "the plugin trains ESPnet's asr task only"
require_default num_ref 1 "multi-speaker references are not implemented"
[ "${num_inf}" = 1 ] || require_default num_inf "" "multi-speaker hypotheses are not implemented"
require_default use_k2 false "k2 decoding is not implemented"
require_default k2_ctc_decoding true "k2 decoding (--use_k2) is not implemented"
require_default use_nbest_rescoring true "k2 decoding (--use_k2) is not implemented"
require_default num_paths 1000 "k2 decoding (--use_k2) is not implemented"
require_default nll_batch_size 100 "k2 decoding (--use_k2) is not implemented"
require_default k2_config ./conf/decode_asr_transformer_with_k2.yaml "k2 decoding (--use_k2) is not implemented"
require_default use_streaming false "streaming decoding is not implemented"
require_default use_maskctc false "Mask-CTC decoding is not implemented"
require_default download_model "" "downloading from the model zoo is not implemented"
require_default g2p none "g2p is used by token_type phn only, which is not supported"

# Honoured options with a restricted set of values.
[ "${feats_type}" = raw ] || die "--feats_type ${feats_type}: not supported by this asr.sh (only raw;" \
    "ESPnet's fbank_pitch, fbank and extracted need Kaldi feature extraction)"
case "${token_type}" in bpe|char|word) ;; *) die "--token_type must be bpe, char or word: ${token_type}" ;; esac
case "${audio_format}" in
    flac|wav|flac.ark|wav.ark) ;;
    *) die "--audio_format must be flac, wav, flac.ark or wav.ark: ${audio_format}" ;;
esac
case "${bpemode}" in unigram|bpe) ;; *) die "--bpemode must be unigram or bpe: ${bpemode}" ;; esac
for b in skip_data_prep skip_train skip_eval gpu_inference use_lm ignore_init_mismatch; do
    case "${!b}" in true|false) ;; *) die "--${b} must be true or false: ${!b}" ;; esac
done
for b in stage stop_stage ngpu num_nodes num_procs nj inference_nj nbpe; do
    [[ "${!b}" =~ ^[0-9]+$ ]] || die "--${b} must be a non-negative integer: ${!b}"
done
for b in asr_speech_fold_length asr_text_fold_length lm_fold_length batch_size word_vocab_size \
    bpe_input_sentence_size; do
    [[ "${!b}" =~ ^[1-9][0-9]*$ ]] || die "--${b} must be a positive integer: ${!b}"
done
_cover_re='^(0?\.[0-9]+|1(\.0*)?)$'
[[ "${bpe_char_cover}" =~ ${_cover_re} ]] || die "--bpe_char_cover must be a number in (0, 1]: ${bpe_char_cover}"
[ "${train_omp_threads}" = auto ] || [[ "${train_omp_threads}" =~ ^[1-9][0-9]*$ ]] \
    || die "--train_omp_threads must be auto or a positive integer: ${train_omp_threads}"
if [ "${num_procs}" -gt 1 ] && [ "${ngpu}" -gt 0 ]; then
    die "--num_procs is for CPU training (--ngpu 0); with GPUs use --ngpu N"
fi
if [[ "${audio_format}" == *ark ]] && [ -n "${eval_sample_rates}" ]; then
    die "--eval_sample_rates needs audio files in ${dumpdir}/raw: use --audio_format flac or wav, not ${audio_format}"
fi
# True when stage N is selected and not skipped: runs_stage N.
runs_stage() {
    local n=$1
    [ "${stage}" -le "${n}" ] && [ "${stop_stage}" -ge "${n}" ] || return 1
    if [ "${n}" -le 5 ]; then ! "${skip_data_prep}"
    elif [ "${n}" -le 11 ]; then ! "${skip_train}"
    else ! "${skip_eval}"; fi
}
if runs_stage 13; then
    if [ -n "${score_opts}" ]; then
        [ "${scorer}" != python ] || die "--score_opts '${score_opts}' are sclite options: not with --scorer python"
        ${python} -c 'import sys; from espnet_ddp.tools.score_asr import find_sclite; sys.exit(find_sclite() is None)' \
            || die "--score_opts '${score_opts}' are sclite options, but sclite is not installed (apt-get install sctk)"
    fi
    if [ -n "${local_score_opts}" ] && [ ! -f local/score.sh ]; then
        die "--local_score_opts '${local_score_opts}' given, but this recipe has no local/score.sh"
    fi
fi
if [ "${stop_stage}" -ge 14 ] && [ "${stage}" -le 14 ]; then
    log "note: ESPnet's stage 14 (packing the model) is not implemented; stage 13 is the last one here"
fi

# "16k" -> 16000
fs_hz=$(awk -v fs="${fs}" 'BEGIN { if (fs ~ /k$/) { sub(/k$/, "", fs); printf "%d", fs * 1000 } else printf "%d", fs }')
[ "${fs_hz}" -gt 0 ] || die "--fs must be like 16k or 16000: ${fs}"

[ -n "${speed_perturb_factors}" ] && train_set_sp="${train_set}_sp" || train_set_sp="${train_set}"

# Texts (ESPnet's defaults; with speed perturbation, the perturbed training set's text).
[ -n "${bpe_train_text}" ] || bpe_train_text="${dumpdir}/raw/${train_set_sp}/text"
[ -n "${lm_train_text}" ] || lm_train_text="${dumpdir}/raw/${train_set_sp}/text"
[ -n "${lm_dev_text}" ] || lm_dev_text="${dumpdir}/raw/${valid_set}/text"
[ -n "${lm_test_text}" ] || lm_test_text="${dumpdir}/raw/${test_sets%% *}/text"
lm_train_txt="${dumpdir}/raw/lm_train.txt"  # the texts of --lm_train_text without empty lines (stage 4)

# Directory names as ESPnet's: the language tag appears only when it is not "noinfo".
if [ "${lang}" != noinfo ]; then
    token_listdir="data/${lang}_token_list"
    _lang_part="_${lang}"
else
    token_listdir="data/token_list"
    _lang_part=""
fi
if [ "${token_type}" = bpe ]; then
    tokendir="${token_listdir}/bpe_${bpemode}${nbpe}"
    bpemodel="${tokendir}/bpe.model"
    _tok_part="bpe${nbpe}"
else
    tokendir="${token_listdir}/${token_type}"
    bpemodel=none
    _tok_part="${token_type}"
fi
token_list="${tokendir}/tokens.txt"

if [ -z "${asr_tag}" ]; then
    if [ -n "${asr_config}" ]; then
        asr_tag="$(basename "${asr_config}" .yaml)_raw${_lang_part}_${_tok_part}"
    else
        asr_tag="train_raw${_lang_part}_${_tok_part}"
    fi
    [ -n "${speed_perturb_factors}" ] && asr_tag+="_sp"
fi
if [ -z "${asr_stats_dir}" ]; then
    asr_stats_dir="${expdir}/asr_stats_raw${_lang_part}_${_tok_part}"
    [ -n "${speed_perturb_factors}" ] && asr_stats_dir+="_sp"
fi
[ -n "${asr_exp}" ] || asr_exp="${expdir}/asr_${asr_tag}"

if [ -z "${lm_tag}" ]; then
    if [ -n "${lm_config}" ]; then
        lm_tag="$(basename "${lm_config}" .yaml)${_lang_part}_${_tok_part}"
    else
        lm_tag="train${_lang_part}_${_tok_part}"
    fi
    [ -z "${lm_args}" ] || lm_tag+="$(echo "${lm_args}" | sed -e "s/--/\_/g" -e "s/[ |=/]//g")"
fi
[ -n "${lm_stats_dir}" ] || lm_stats_dir="${expdir}/lm_stats${_lang_part}_${_tok_part}"
[ -n "${lm_exp}" ] || lm_exp="${expdir}/lm_${lm_tag}"

if [ -z "${inference_tag}" ]; then
    if [ -n "${inference_config}" ]; then
        inference_tag="$(basename "${inference_config}" .yaml)"
    else
        inference_tag=inference
    fi
    if "${use_lm}"; then
        inference_tag+="_lm_$(basename "${lm_exp}")_$(echo "${inference_lm}" | sed -e "s/\//_/g" -e "s/\.[^.]*$//g")"
    fi
    inference_tag+="_asr_model_${inference_asr_model%.*}"
fi

# The last lines of the logs of the failed jobs among those matching a log pattern (a job log of
# utils/run_local.sh or run_slurm.sh ends "# Ended (code N)"; N != 0: failed), on stderr; a single
# log without that line (espnet2.bin.launch writes its own) is shown too: show_failed_logs PATTERN.
show_failed_logs() {
    local pattern=$1 f code shown=0 failed=() logs=()
    mapfile -t logs < <(compgen -G "${pattern}" | LC_ALL=C sort -V || true)
    for f in ${logs[@]+"${logs[@]}"}; do
        code=$(sed -n 's/^# Ended (code \([0-9]*\)).*/\1/p' "${f}" | tail -n 1)
        if [ -n "${code}" ] && [ "${code}" != 0 ]; then failed+=("${f}"); fi
    done
    if [ "${#failed[@]}" -eq 0 ] && [ "${#logs[@]}" -eq 1 ]; then failed=("${logs[0]}"); fi
    for f in ${failed[@]+"${failed[@]}"}; do
        if [ "${shown}" -ge 3 ]; then
            echo "    ... $(( ${#failed[@]} - shown )) more failed job(s): see their logs" >&2
            break
        fi
        echo "    last lines of ${f}:" >&2
        { grep -v -E '^# (Accounting: |Ended \(code |Started at )' "${f}" || true; } | tail -n 12 | sed 's/^/      | /' >&2
        shown=$(( shown + 1 ))
    done
}

# Runs one stage step: logs the command, and on failure names it and its log file, and shows the
# end of each failed job's log.
run_logged() {
    local logfile=$1
    shift
    log "running: $* (log: ${logfile})"
    if ! "$@"; then
        log "ERROR: failed: $*\n    see the log: ${logfile}"
        show_failed_logs "${logfile}"
        exit 1
    fi
}

# Splits a key-value file into N parts by line: split_scp FILE N OUT_PREFIX (OUT_PREFIX.1 ... .N).
split_scp() {
    local in=$1 n=$2 prefix=$3
    rm -f "${prefix}".*
    awk -v n="${n}" -v p="${prefix}" '{ print > (p "." ((NR - 1) % n + 1)) }' "${in}"
    local i
    for i in $(seq "${n}"); do touch "${prefix}.${i}"; done
}

# Sorted union of JOB-split outputs: merge_parts OUT PART_PREFIX N.
merge_parts() {
    local out=$1 prefix=$2 n=$3 i
    for i in $(seq "${n}"); do cat "${prefix}.${i}"; done | LC_ALL=C sort -k1,1 -s >"${out}"
}

# The test sets to decode and score, including resampled copies (--eval_sample_rates).
eval_sets() {
    local dset r m
    for dset in ${test_sets}; do
        echo "${dset}"
        for r in ${eval_sample_rates}; do
            for m in ${eval_resample_modes}; do echo "${dset}_sr${r}_${m}"; done
        done
    done
}

# Stage 12 on a GPU needs CUDA: find out now, not after training. Only for local jobs: with
# another backend the jobs run on other machines. With --ngpu 0 (everything else on CPUs: asr.sh's
# default is 1, so it was asked for) decoding falls back to the CPU; otherwise stop.
if ! "${skip_eval}" && "${gpu_inference}" && [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ] \
    && [ "${cmd_backend:-local}" = local ]; then
    _cuda=$(${python} -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null) \
        || die "--gpu_inference true: could not import torch with ${python} to look for CUDA"
    if [ "${_cuda}" != 1 ] && [ "${ngpu}" -eq 0 ]; then
        log "WARNING: --gpu_inference true but CUDA is not available here (--ngpu 0):" \
            "stage 12 decodes on the CPU (--gpu_inference false)"
        gpu_inference=false
    elif [ "${_cuda}" != 1 ]; then
        die "--gpu_inference true but CUDA is not available here (torch.cuda.is_available() is" \
            "False), so stage 12 would fail after training: decode on the CPU with --gpu_inference false" \
            "(and train on CPUs with --ngpu 0, which also decodes on the CPU)"
    fi
fi

log "recipe: $(pwd)"
log "asr_exp=${asr_exp} asr_stats_dir=${asr_stats_dir} token_list=${token_list}"

# --nlsyms_txt names a file (local/data.sh may write it in stage 1): check_nlsyms WHEN.
check_nlsyms() {
    [ "${nlsyms_txt}" = none ] || [ -f "${nlsyms_txt}" ] \
        || die "--nlsyms_txt ${nlsyms_txt}: no such file ($1)"
}
# Checked now unless stage 1 runs first (it may write the file) or no stage 5-13 runs.
if { [ "${stage}" -gt 1 ] || "${skip_data_prep}"; } && [ "${stage}" -le 13 ] && [ "${stop_stage}" -ge 5 ]; then
    check_nlsyms "needed by stages 5-13"
fi

# ${lm_train_txt}: the texts of --lm_train_text without the lines that have no words; utterance ids
# get the file name's suffix after "text" (text_foo -> <id>_foo), as ESPnet's stage 4 does.
make_lm_train_txt() {
    local f suffix
    for f in ${lm_train_text}; do
        [ -f "${f}" ] || die "--lm_train_text: no such file ${f}"
    done
    mkdir -p "$(dirname "${lm_train_txt}")"
    for f in ${lm_train_text}; do
        suffix=$(basename "${f}" | sed 's/text//')
        awk -v suffix="${suffix}" '{ if (NF > 1) { $1 = $1 suffix; print $0 } }' "${f}"
    done >"${lm_train_txt}"
    log "  ${lm_train_txt}: $(wc -l <"${lm_train_txt}") lines from ${lm_train_text}"
}

if ! "${skip_data_prep}"; then
    if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
        log "Stage 1: data preparation (local/data.sh ${local_data_opts}) -> data/"
        [ -x local/data.sh ] || die "local/data.sh is missing or not executable"
        # shellcheck disable=SC2086
        if ! local/data.sh ${local_data_opts}; then
            die "stage 1 failed: local/data.sh ${local_data_opts} (its error report is above)"
        fi
        for dset in "${train_set}" "${valid_set}" ${test_sets}; do
            [ -d "data/${dset}" ] || die "local/data.sh did not make data/${dset}"
            ${python} -m espnet_ddp.tools.validate_data_dir --no_audio "data/${dset}" \
                || die "stage 1: data/${dset} is not a valid data directory (report above)"
        done
        check_nlsyms "after stage 1"
    fi

    if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
        if [ -n "${speed_perturb_factors}" ]; then
            log "Stage 2: speed perturbation (${speed_perturb_factors}): data/${train_set} -> data/${train_set_sp}"
            ${python} -m espnet_ddp.tools.perturb_speed --factors "${speed_perturb_factors}" \
                "data/${train_set}" "data/${train_set_sp}" \
                || die "stage 2 failed: perturb_speed data/${train_set}"
        else
            log "Stage 2: speed perturbation skipped (--speed_perturb_factors is empty)"
        fi
    fi

    if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
        # Audio formatted by an earlier run is reused only when its source is unchanged (size and
        # modification time, see espnet_ddp.tools.source_stamps); a source that is gone stops it.
        log "Stage 3: format audio (${fs_hz} Hz mono ${audio_format}) -> ${dumpdir}/raw"
        for dset in "${train_set_sp}" "${valid_set}" ${test_sets}; do
            if [ "${dset}" = "${train_set_sp}" ] || [ "${dset}" = "${valid_set}" ]; then
                out="${dumpdir}/raw/org/${dset}"
            else
                out="${dumpdir}/raw/${dset}"
            fi
            src="data/${dset}"
            [ -f "${src}/wav.scp" ] || die "stage 3: no ${src}/wav.scp (run stage 1)"
            mkdir -p "${out}/logdir"
            for f in text utt2spk spk2utt; do cp "${src}/${f}" "${out}/${f}"; done
            # ESPnet batches by category when dump/raw/<set>/utt2category exists (stage 4 filters it)
            if [ -f "${src}/utt2category" ]; then cp "${src}/utt2category" "${out}/utt2category"; fi
            if [ -f "${src}/segments" ]; then
                # Utterances are segments of the recordings in wav.scp: split the segments.
                _keys="${src}/segments"
                _seg_opt=(--segments "${out}/logdir/segments.JOB")
            else
                _keys="${src}/wav.scp"
                _seg_opt=()
            fi
            _nj=$(min "${nj}" "$(wc -l <"${_keys}")")
            if [ -f "${src}/segments" ]; then
                split_scp "${src}/segments" "${_nj}" "${out}/logdir/segments"
                for i in $(seq "${_nj}"); do cp "${src}/wav.scp" "${out}/logdir/wav.scp.${i}"; done
            else
                split_scp "${src}/wav.scp" "${_nj}" "${out}/logdir/wav.scp"
            fi
            run_logged "${out}/logdir/format.*.log" \
                ${train_cmd} JOB=1:"${_nj}" "${out}/logdir/format.JOB.log" \
                ${python} -m espnet_ddp.tools.format_audio --fs "${fs_hz}" --audio_format "${audio_format}" \
                ${_seg_opt[@]+"${_seg_opt[@]}"} \
                "${out}/logdir/wav.scp.JOB" "${out}/data/format.JOB" \
                "${out}/logdir/wav_out.scp.JOB" "${out}/logdir/utt2num_samples.JOB"
            merge_parts "${out}/wav.scp" "${out}/logdir/wav_out.scp" "${_nj}"
            merge_parts "${out}/utt2num_samples" "${out}/logdir/utt2num_samples" "${_nj}"
            echo "${audio_format}" >"${out}/audio_format"
            echo raw >"${out}/feats_type"
            log "  ${dset}: $(wc -l <"${out}/wav.scp") utterances -> ${out}"
        done
    fi

    if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
        _min=$(awk -v d="${min_wav_duration}" -v fs="${fs_hz}" 'BEGIN { printf "%d", d * fs }')
        _max=$(awk -v d="${max_wav_duration}" -v fs="${fs_hz}" 'BEGIN { printf "%d", d * fs }')
        log "Stage 4: remove utterances shorter than ${min_wav_duration} s (--min_wav_duration:" \
            "${_min} samples), longer than ${max_wav_duration} s (--max_wav_duration: ${_max} samples)," \
            "or without text; the ones removed are listed in ${dumpdir}/raw/<set>/dropped_utts"
        for dset in "${train_set_sp}" "${valid_set}"; do
            [ -d "${dumpdir}/raw/org/${dset}" ] || die "stage 4: no ${dumpdir}/raw/org/${dset} (run stage 3)"
            # The new directory replaces ${dumpdir}/raw/${dset} only when it is complete.
            ${python} -m espnet_ddp.tools.filter_data_dir --min_samples "${_min}" --max_samples "${_max}" \
                --fs "${fs_hz}" "${dumpdir}/raw/org/${dset}" "${dumpdir}/raw/${dset}" \
                || die "stage 4 failed for ${dset} (report above)"
        done
        make_lm_train_txt
    fi

    if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
        check_nlsyms "stage 5"
        _opts=(--token_type "${token_type}" --oov "${oov}" --blank "${blank}" --sos_eos "${sos_eos}")
        if [ "${token_type}" = bpe ]; then
            log "Stage 5: bpe token list from ${bpe_train_text} -> ${token_list}"
            _texts=(${bpe_train_text})
            _opts+=(--nbpe "${nbpe}" --bpemode "${bpemode}" --input_sentence_size "${bpe_input_sentence_size}"
                    --character_coverage "${bpe_char_cover}")
            if [ -n "${bpe_nlsyms}" ]; then
                if [ -f "${bpe_nlsyms}" ]; then
                    _opts+=(--user_defined_symbols "$(awk '{ print $1 }' "${bpe_nlsyms}" | paste -s -d, -)")
                else
                    _opts+=(--user_defined_symbols "${bpe_nlsyms}")
                fi
            fi
        else
            # As ESPnet: characters and words come from the LM training text (by default the
            # training set's), with the non-linguistic symbols kept whole and the text cleaner.
            [ -f "${lm_train_txt}" ] || make_lm_train_txt
            log "Stage 5: ${token_type} token list from ${lm_train_txt} -> ${token_list}"
            _texts=("${lm_train_txt}")
            _opts+=(--non_linguistic_symbols "${nlsyms_txt}" --cleaner "${cleaner}")
        fi
        for f in "${_texts[@]}"; do
            [ -f "${f}" ] || die "stage 5: no ${f} (run stage 4, or check --bpe_train_text)"
        done
        ${python} -m espnet_ddp.tools.token_list "${_opts[@]}" "${_texts[@]}" "${tokendir}" \
            || die "stage 5 failed: token list for ${token_type}"
    fi
else
    log "Skip the data preparation stages 1-5 (--skip_data_prep true)"
fi

# Options shared by statistics collection, training and the LM (as ESPnet passes them).
tokenizer_opts="--token_type ${token_type} --token_list ${token_list} --bpemodel ${bpemodel}"
tokenizer_opts+=" --non_linguistic_symbols ${nlsyms_txt} --cleaner ${cleaner} --g2p ${g2p}"

if ! "${skip_train}"; then
    if "${use_lm}"; then
        _lm_opts=""
        [ -z "${lm_config}" ] || _lm_opts+="--config ${lm_config} "
        if [ -n "${lm_config}" ] && [ ! -f "${lm_config}" ] && [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 6 ]; then
            die "no such --lm_config: ${lm_config}"
        fi
        if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
            log "Stage 6: LM statistics: train ${lm_train_txt}, dev ${lm_dev_text} -> ${lm_stats_dir}"
            check_nlsyms "stage 6"
            [ -f "${lm_train_txt}" ] || make_lm_train_txt
            [ -f "${lm_dev_text}" ] || die "stage 6: no --lm_dev_text ${lm_dev_text} (run stage 4)"
            [ -f "${token_list}" ] || die "stage 6: no ${token_list} (run stage 5)"
            _logdir="${lm_stats_dir}/logdir"
            mkdir -p "${_logdir}"
            _nj=$(min "${nj}" "$(wc -l <"${lm_train_txt}")" "$(wc -l <"${lm_dev_text}")")
            split_scp "${lm_train_txt}" "${_nj}" "${_logdir}/train.scp"
            split_scp "${lm_dev_text}" "${_nj}" "${_logdir}/dev.scp"
            rm -rf "${_logdir}"/stats.*
            # shellcheck disable=SC2086
            run_logged "${_logdir}/stats.*.log" \
                ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" \
                ${python} -m espnet2.bin.lm_train --collect_stats true --use_preprocessor true \
                ${tokenizer_opts} \
                --train_data_path_and_name_and_type "${lm_train_txt},text,text" \
                --valid_data_path_and_name_and_type "${lm_dev_text},text,text" \
                --train_shape_file "${_logdir}/train.scp.JOB" --valid_shape_file "${_logdir}/dev.scp.JOB" \
                --output_dir "${_logdir}/stats.JOB" ${_lm_opts} ${lm_args}
            _dirs=()
            for i in $(seq "${_nj}"); do _dirs+=(--input_dir "${_logdir}/stats.${i}"); done
            ${python} -m espnet2.bin.aggregate_stats_dirs "${_dirs[@]}" \
                --output_dir "${lm_stats_dir}" >"${_logdir}/aggregate.log" 2>&1 \
                || die "stage 6: aggregate_stats_dirs failed, see ${_logdir}/aggregate.log"
            _ntok=$(wc -l <"${token_list}")
            for m in train valid; do
                awk -v n="${_ntok}" '{ print $0 "," n }' "${lm_stats_dir}/${m}/text_shape" \
                    >"${lm_stats_dir}/${m}/text_shape.${token_type}"
            done
        fi
        if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
            log "Stage 7: LM training (espnet2.bin.lm_train) -> ${lm_exp}"
            [ -f "${lm_stats_dir}/train/text_shape.${token_type}" ] \
                || die "stage 7: no LM statistics in ${lm_stats_dir} (run stage 6)"
            mkdir -p "${lm_exp}"
            echo "${run_args} --stage 7" >"${lm_exp}/run.sh"
            chmod +x "${lm_exp}/run.sh"
            # shellcheck disable=SC2086
            run_logged "${lm_exp}/train.log" \
                ${python} -m espnet2.bin.launch --cmd "${cuda_cmd} --name lm_train" \
                --log "${lm_exp}/train.log" --ngpu "${ngpu}" --num_nodes "${num_nodes}" \
                --init_file_prefix "${lm_exp}/.dist_init_" --multiprocessing_distributed true -- \
                ${python} -m espnet2.bin.lm_train --ngpu "${ngpu}" --use_preprocessor true ${tokenizer_opts} \
                --train_data_path_and_name_and_type "${lm_train_txt},text,text" \
                --train_shape_file "${lm_stats_dir}/train/text_shape.${token_type}" \
                --valid_data_path_and_name_and_type "${lm_dev_text},text,text" \
                --valid_shape_file "${lm_stats_dir}/valid/text_shape.${token_type}" \
                --fold_length "${lm_fold_length}" \
                --resume true --output_dir "${lm_exp}" ${_lm_opts} ${lm_args}
        fi
        if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
            log "Stage 8: LM perplexity on ${lm_test_text}"
            [ -f "${lm_test_text}" ] || die "stage 8: no --lm_test_text ${lm_test_text} (run stage 3)"
            [ -e "${lm_exp}/${inference_lm}" ] || die "stage 8: no LM ${lm_exp}/${inference_lm} (run stage 7, or set --inference_lm)"
            _dir="${lm_exp}/perplexity_test"
            run_logged "${_dir}/lm_calc_perplexity.log" \
                ${cuda_cmd} --gpu "${ngpu}" "${_dir}/lm_calc_perplexity.log" \
                ${python} -m espnet2.bin.lm_calc_perplexity --ngpu "${ngpu}" \
                --data_path_and_name_and_type "${lm_test_text},text,text" \
                --train_config "${lm_exp}/config.yaml" --model_file "${lm_exp}/${inference_lm}" \
                --output_dir "${_dir}"
            log "  perplexity of ${lm_test_text}: $(cat "${_dir}/ppl")"
        fi
    elif [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 6 ]; then
        log "Stages 6-8: language model skipped (--use_lm false)"
    fi
    if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
        log "Stage 9: n-gram LM skipped (--use_ngram false)"
    fi

    _asr_train_dir="${dumpdir}/raw/${train_set_sp}"
    _asr_valid_dir="${dumpdir}/raw/${valid_set}"
    # ESPnet's data types: kaldi_ark for audio in .ark files, sound for audio files.
    _fmt=$(cat "${_asr_train_dir}/audio_format" 2>/dev/null || echo "${audio_format}")
    [[ "${_fmt}" == *ark ]] && _audio_type=kaldi_ark || _audio_type=sound
    common_opts="--use_preprocessor true ${tokenizer_opts} --frontend_conf fs=${fs}"
    common_opts+=" --train_data_path_and_name_and_type ${_asr_train_dir}/wav.scp,speech,${_audio_type}"
    common_opts+=" --train_data_path_and_name_and_type ${_asr_train_dir}/text,text,text"
    common_opts+=" --valid_data_path_and_name_and_type ${_asr_valid_dir}/wav.scp,speech,${_audio_type}"
    common_opts+=" --valid_data_path_and_name_and_type ${_asr_valid_dir}/text,text,text"
    [ -n "${asr_config}" ] && common_opts+=" --config ${asr_config}"

    if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ]; then
        log "Stage 10: ASR statistics (--collect_stats true) -> ${asr_stats_dir}"
        check_nlsyms "stage 10"
        for d in "${_asr_train_dir}" "${_asr_valid_dir}"; do
            [ -f "${d}/wav.scp" ] || die "stage 10: no ${d}/wav.scp (run stages 3-4)"
        done
        [ -f "${token_list}" ] || die "stage 10: no ${token_list} (run stage 5)"
        [ -z "${asr_config}" ] || [ -f "${asr_config}" ] || die "no such --asr_config: ${asr_config}"
        # Every utterance's audio is readable, complete and at --fs, and the ids and texts agree,
        # before ESPnet reads them (its loader's errors name no utterance; a rate it does not check).
        log "  checking the dumps ${_asr_train_dir} and ${_asr_valid_dir} (ids, UTF-8 texts, audio at ${fs_hz} Hz)"
        ${python} -m espnet_ddp.tools.validate_data_dir --fs "${fs_hz}" --nj "${nj}" \
            "${_asr_train_dir}" "${_asr_valid_dir}" >&2 \
            || die "stage 10: the dump is not usable (report above): run stages 3-4 again (--fs ${fs})," \
                "or fix or remove the utterances named"
        _logdir="${asr_stats_dir}/logdir"
        mkdir -p "${_logdir}"
        _nj=$(min "${nj}" "$(wc -l <"${_asr_train_dir}/wav.scp")" "$(wc -l <"${_asr_valid_dir}/wav.scp")")
        split_scp "${_asr_train_dir}/wav.scp" "${_nj}" "${_logdir}/train.scp"
        split_scp "${_asr_valid_dir}/wav.scp" "${_nj}" "${_logdir}/valid.scp"
        rm -rf "${_logdir}"/stats.*
        # Pruning and time dropping never apply to statistics collection (training iterator only).
        # shellcheck disable=SC2086
        run_logged "${_logdir}/stats.*.log" \
            ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" \
            ${python} -m "${train_module}" --collect_stats true ${common_opts} \
            --train_shape_file "${_logdir}/train.scp.JOB" --valid_shape_file "${_logdir}/valid.scp.JOB" \
            --output_dir "${_logdir}/stats.JOB" ${asr_args}
        _dirs=()
        for i in $(seq "${_nj}"); do _dirs+=(--input_dir "${_logdir}/stats.${i}"); done
        ${python} -m espnet2.bin.aggregate_stats_dirs "${_dirs[@]}" \
            --output_dir "${asr_stats_dir}" >"${_logdir}/aggregate.log" 2>&1 \
            || die "stage 10: aggregate_stats_dirs failed, see ${_logdir}/aggregate.log"
        _ntok=$(wc -l <"${token_list}")
        for m in train valid; do
            awk -v n="${_ntok}" '{ print $0 "," n }' "${asr_stats_dir}/${m}/text_shape" \
                >"${asr_stats_dir}/${m}/text_shape.${token_type}"
        done
    fi

    if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
        log "Stage 11: ASR training with ${train_module} -> ${asr_exp}"
        check_nlsyms "stage 11"
        [ -f "${asr_stats_dir}/train/feats_stats.npz" ] || die "stage 11: no statistics in ${asr_stats_dir} (run stage 10)"
        mkdir -p "${asr_exp}"
        echo "${run_args} --stage 11" >"${asr_exp}/run.sh"
        chmod +x "${asr_exp}/run.sh"
        _opts="${common_opts}"
        _opts+=" --train_shape_file ${asr_stats_dir}/train/speech_shape"
        _opts+=" --train_shape_file ${asr_stats_dir}/train/text_shape.${token_type}"
        _opts+=" --valid_shape_file ${asr_stats_dir}/valid/speech_shape"
        _opts+=" --valid_shape_file ${asr_stats_dir}/valid/text_shape.${token_type}"
        # One fold length per shape file, in the order above; raw audio counts samples, so the
        # speech length in frames becomes samples as in ESPnet (x100).
        _opts+=" --fold_length $(( asr_speech_fold_length * 100 )) --fold_length ${asr_text_fold_length}"
        if [ "${feats_normalize}" = global_mvn ]; then
            # The default normalization (utterance_mvn) becomes global_mvn with the stage 10 statistics.
            _opts+=" --normalize global_mvn --normalize_conf stats_file=${asr_stats_dir}/train/feats_stats.npz"
        fi
        [ -z "${pretrained_model}" ] || _opts+=" --init_param ${pretrained_model}"
        _opts+=" --ignore_init_mismatch ${ignore_init_mismatch}"
        _opts+=" --resume true --output_dir ${asr_exp}"
        if [ -n "${cooldown_budgets}" ]; then
            # The long run of the cooldown branches: WSD, keeping the state each budget starts from.
            _budgets=$(echo "${cooldown_budgets}" | tr -s ' ' ',')
            _opts+=" --lr_fit wsd --lr_fit_conf decay_share=${cooldown_decay_share}"
            _opts+=" --lr_fit_conf branch_budgets=[${_budgets}]"
        fi
        # Threads: the training job is the only job running, so its processes share the cores.
        _procs=1
        [ "${num_procs}" -gt 1 ] && _procs=${num_procs}
        [ "${ngpu}" -gt 1 ] && _procs=${ngpu}
        _omp=${train_omp_threads}
        if [ "${_omp}" = auto ] && [ "${cmd_backend:-local}" = local ]; then
            # nproc obeys OMP_NUM_THREADS, which path.sh sets to 1 for the parallel jobs.
            _omp=$(( $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) / _procs ))
            [ "${_omp}" -ge 1 ] || _omp=1
        elif [ "${_omp}" = auto ]; then
            _omp=1
        fi
        log "  ${_procs} training process(es) with OMP_NUM_THREADS=${_omp} each (--train_omp_threads ${train_omp_threads})"
        _train_env="env OMP_NUM_THREADS=${_omp}"
        if [ "${num_procs}" -gt 1 ]; then
            # CPU data parallelism: one process per rank, started by torchrun, gloo backend.
            _port=$(( 29500 + RANDOM % 1000 ))
            # shellcheck disable=SC2086
            run_logged "${asr_exp}/train.log" \
                ${cuda_cmd} --name asr_train --num_threads "$(( _omp * _procs ))" "${asr_exp}/train.log" \
                ${_train_env} ${python} -m torch.distributed.run --nnodes 1 --nproc_per_node "${num_procs}" \
                --master_port "${_port}" -m "${train_module}" --ngpu 0 \
                --multiprocessing_distributed false --dist_backend gloo ${_opts} ${asr_args}
        else
            # As ESPnet launches it: --ngpu N > 1 spawns one process per GPU (torch.distributed).
            # shellcheck disable=SC2086
            run_logged "${asr_exp}/train.log" \
                ${python} -m espnet2.bin.launch \
                --cmd "${cuda_cmd} --name asr_train --num_threads $(( _omp * _procs ))" \
                --log "${asr_exp}/train.log" --ngpu "${ngpu}" --num_nodes "${num_nodes}" \
                --init_file_prefix "${asr_exp}/.dist_init_" --multiprocessing_distributed true -- \
                ${_train_env} ${python} -m "${train_module}" ${_opts} ${asr_args}
        fi
        if [ -n "${cooldown_budgets}" ]; then
            log "  cooldown branches of ${asr_exp}: budgets ${cooldown_budgets}"
            # shellcheck disable=SC2086
            run_logged "${asr_exp}/cooldown_branches.log" \
                ${cuda_cmd} --name asr_cooldown --num_threads "$(( _omp * _procs ))" "${asr_exp}/cooldown_branches.log" \
                ${_train_env} ${python} -m espnet_ddp.tools.cooldown_branch "${asr_exp}" \
                --budgets ${cooldown_budgets} --out "${asr_exp}_budget{budget}"
        fi
    fi
else
    log "Skip the training stages 6-11 (--skip_train true)"
fi

# The experiments stages 12-13 decode and score: the run, then its cooldown branches.
eval_exps() {
    echo "${asr_exp}"
    local b
    for b in ${cooldown_budgets}; do
        echo "${asr_exp}_budget$(awk -v b="${b}" 'BEGIN { printf "%g", b }')"
    done
}

if ! "${skip_eval}"; then
  _main_exp=${asr_exp}
  for asr_exp in $(eval_exps); do
    _dec_dir="${asr_exp}/decode_${inference_tag}"
    if [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ]; then
        log "Stage 12: decoding with ${asr_exp}/${inference_asr_model} -> ${_dec_dir}"
        [ -e "${asr_exp}/${inference_asr_model}" ] || die "stage 12: no model ${asr_exp}/${inference_asr_model} (run stage 11, or set --inference_asr_model)"
        [ -z "${inference_config}" ] || [ -f "${inference_config}" ] || die "no such --inference_config: ${inference_config}"
        # Resampled copies of the test sets (--eval_sample_rates).
        for dset in ${test_sets}; do
            for r in ${eval_sample_rates}; do
                for m in ${eval_resample_modes}; do
                    _dst="${dumpdir}/raw/${dset}_sr${r}_${m}"
                    [ -f "${_dst}/wav.scp" ] && continue
                    log "  resampling ${dset} to ${r} Hz (${m}) -> ${_dst}"
                    ${python} -m espnet_ddp.tools.resample_data --rate "${r}" --mode "${m}" \
                        "${dumpdir}/raw/${dset}" "${_dst}" \
                        || die "stage 12: espnet_ddp.tools.resample_data failed for ${dset} (rate ${r}, mode ${m})"
                done
            done
        done
        _ngpu=0
        "${gpu_inference}" && _ngpu=1
        _opts=""
        [ -n "${inference_config}" ] && _opts+=" --config ${inference_config}"
        # ESPnet >= 202610 approximates the CTC prefix score in a window by default
        # (--ctc_window_margin 100); 0 is the exact score of every earlier release, so a WER means
        # the same on every ESPnet (docs/COMPATIBILITY.md). A margin in --inference_config or
        # --inference_args still wins. (Not `asr_inference --help`: that help crashes on 202611.)
        if ${python} -c 'import inspect, sys; from espnet2.bin.asr_inference import inference; sys.exit("ctc_window_margin" not in inspect.signature(inference).parameters)' >/dev/null 2>&1 \
            && ! grep -qs "ctc_window_margin" "${inference_config:-/dev/null}" \
            && [[ "${inference_args}" != *ctc_window_margin* ]]; then
            _opts+=" --ctc_window_margin 0"
        fi
        if "${use_lm}"; then
            # Shallow fusion with the LM of stages 6-8 (its weight: lm_weight of the decoding config).
            [ -e "${lm_exp}/${inference_lm}" ] || die "stage 12: --use_lm true but no LM ${lm_exp}/${inference_lm} (run stages 6-7, or --use_lm false)"
            _opts+=" --lm_train_config ${lm_exp}/config.yaml --lm_file ${lm_exp}/${inference_lm}"
        fi
        for dset in $(eval_sets); do
            _data="${dumpdir}/raw/${dset}"
            _out="${_dec_dir}/${dset}"
            _logdir="${_out}/logdir"
            [ -f "${_data}/wav.scp" ] || die "stage 12: no ${_data}/wav.scp (run stage 3)"
            _fmt=$(cat "${_data}/audio_format" 2>/dev/null || echo "${audio_format}")
            [[ "${_fmt}" == *ark ]] && _type=kaldi_ark || _type=sound
            mkdir -p "${_logdir}"
            _nj=$(min "${inference_nj}" "$(wc -l <"${_data}/wav.scp")")
            split_scp "${_data}/wav.scp" "${_nj}" "${_logdir}/keys.scp"
            rm -rf "${_logdir}"/output.*
            # shellcheck disable=SC2086
            run_logged "${_logdir}/asr_inference.*.log" \
                ${decode_cmd} --gpu "${_ngpu}" JOB=1:"${_nj}" "${_logdir}/asr_inference.JOB.log" \
                ${python} -m espnet2.bin.asr_inference --batch_size "${batch_size}" --ngpu "${_ngpu}" \
                --data_path_and_name_and_type "${_data}/wav.scp,speech,${_type}" \
                --key_file "${_logdir}/keys.scp.JOB" --asr_train_config "${asr_exp}/config.yaml" \
                --asr_model_file "${asr_exp}/${inference_asr_model}" \
                --output_dir "${_logdir}/output.JOB" ${_opts} ${inference_args}
            for f in text token score; do
                for i in $(seq "${_nj}"); do
                    _part="${_logdir}/output.${i}/1best_recog/${f}"
                    if [ -f "${_part}" ]; then cat "${_part}"; fi
                done | LC_ALL=C sort -k1,1 -s >"${_out}/${f}"
            done
            log "  ${dset}: $(wc -l <"${_out}/text") hypotheses -> ${_out}/text"
        done
    fi

    if [ "${stage}" -le 13 ] && [ "${stop_stage}" -ge 13 ]; then
        log "Stage 13: scoring (scorer: ${scorer}) -> ${asr_exp}/RESULTS.md"
        check_nlsyms "stage 13"
        for dset in $(eval_sets); do
            _data="${dumpdir}/raw/${dset}"
            _out="${_dec_dir}/${dset}"
            [ -f "${_out}/text" ] || die "stage 13: no hypotheses ${_out}/text (run stage 12)"
            for metric in wer cer; do
                ${python} -m espnet_ddp.tools.score_asr --scorer "${scorer}" --metric "${metric}" \
                    --non_linguistic_symbols "${nlsyms_txt}" --cleaner "${cleaner}" --sclite_opts="${score_opts}" \
                    "${_data}/text" "${_out}/text" "${_data}/utt2spk" "${_out}/score_${metric}" \
                    || die "stage 13: scoring ${metric} of ${dset} failed"
            done
        done
        if [ -f local/score.sh ]; then
            log "  local/score.sh ${local_score_opts} ${asr_exp}"
            # shellcheck disable=SC2086
            local/score.sh ${local_score_opts} "${asr_exp}" || die "stage 13: local/score.sh ${local_score_opts} ${asr_exp} failed"
        fi
        ${python} -m espnet_ddp.tools.write_results_md "${asr_exp}" >"${asr_exp}/RESULTS.md" \
            || die "stage 13: could not write ${asr_exp}/RESULTS.md"
        cat "${asr_exp}/RESULTS.md" >&2
    fi
  done
  asr_exp=${_main_exp}
else
    log "Skip the evaluation stages 12-13 (--skip_eval true)"
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
