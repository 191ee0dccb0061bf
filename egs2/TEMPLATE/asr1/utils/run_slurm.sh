#!/usr/bin/env bash
# Slurm job backend, in the manner of Kaldi's slurm.pl: writes a batch script for the command (an array
# job for JOB=1:N) and submits it with "sbatch --wait", so the call returns when all jobs have ended.
#
#   run_slurm.sh [options] [JOB=1:N] LOG command [args...]
#
# Options: --gpu N (--gres=gpu:N, and the GPU partition), --mem SIZE (--mem), --num_threads N
# (--cpus-per-task), --num_nodes N (--nodes), --time LIMIT, --name NAME (--job-name),
# --config FILE (a shell file that may set slurm_partition, slurm_gpu_partition, slurm_extra_opts),
# --max_jobs_run N (array throttle "%N"). With --dry_run true, or SLURM_DRY_RUN=1 in the environment,
# the sbatch command is printed (one line, starting with "sbatch") and nothing is submitted.
set -euo pipefail

gpu=0; mem=""; num_threads=1; num_nodes=1; time_limit=""; name=""; config=""; max_jobs_run=0
dry_run="${SLURM_DRY_RUN:-false}"
while [ $# -gt 0 ]; do
    case "$1" in
        --gpu) gpu="$2"; shift 2 ;;
        --mem) mem="$2"; shift 2 ;;
        --num_threads) num_threads="$2"; shift 2 ;;
        --num_nodes) num_nodes="$2"; shift 2 ;;
        --time) time_limit="$2"; shift 2 ;;
        --name) name="$2"; shift 2 ;;
        --config) config="$2"; shift 2 ;;
        --max_jobs_run) max_jobs_run="$2"; shift 2 ;;
        --dry_run) dry_run="$2"; shift 2 ;;
        *) break ;;
    esac
done
[ "${dry_run}" = 1 ] && dry_run=true
if [ $# -lt 2 ]; then
    echo "usage: $0 [options] [JOB=1:N] LOG command [args...]" >&2
    exit 1
fi

slurm_partition=""; slurm_gpu_partition=""; slurm_extra_opts=""
if [ -n "${config}" ]; then
    [ -f "${config}" ] || { echo "$0: no such config file: ${config}" >&2; exit 1; }
    # shellcheck disable=SC1090
    . "${config}"
fi

first=1; last=1; array=false
if [[ "$1" =~ ^JOB=([0-9]+):([0-9]+)$ ]]; then
    first="${BASH_REMATCH[1]}"; last="${BASH_REMATCH[2]}"; array=true
    shift
fi
log="$1"; shift

cmd=""
for a in "$@"; do
    if [[ "${a}" =~ [[:space:]] ]] || [ -z "${a}" ]; then
        cmd+="$(printf '%q' "${a}") "
    else
        cmd+="${a} "
    fi
done

logdir=$(dirname "${log}")
qdir="${logdir}/q"
mkdir -p "${qdir}"
base=$(basename "${log}"); base="${base//.JOB/}"; base="${base%.log}"
script="${qdir}/${base}.sh"
[ -n "${name}" ] || name="${base}"

job_expr=""
if "${array}"; then
    job_expr='${SLURM_ARRAY_TASK_ID}'
    log_job="${log//JOB/${job_expr}}"
    cmd_job="${cmd//JOB/${job_expr}}"
else
    log_job="${log}"; cmd_job="${cmd}"
fi

{
    echo "#!/usr/bin/env bash"
    echo "# written by $0 for: ${cmd}"
    echo "cd $(printf '%q' "$(pwd)")"
    echo "[ -f ./path.sh ] && . ./path.sh"
    [ -n "${job_expr}" ] && echo "export JOB=${job_expr}"
    echo "log=\"${log_job}\""
    echo 'mkdir -p "$(dirname "${log}")"'
    echo "start=\$(date +%s)"
    echo "{ echo \"# ${cmd_job//\"/\\\"}\"; echo \"# Started at \$(date) on \$(hostname)\"; } >\"\${log}\""
    echo "( ${cmd_job} ) >>\"\${log}\" 2>&1"
    echo "rc=\$?"
    echo "{ echo \"# Accounting: time=\$((\$(date +%s) - start)) threads=${num_threads}\"; echo \"# Ended (code \${rc}) at \$(date)\"; } >>\"\${log}\""
    echo "exit \${rc}"
} >"${script}"
chmod +x "${script}"

opts=(sbatch --wait --parsable --job-name "${name}" --output "${qdir}/${base}.%A_%a.out"
      --cpus-per-task "${num_threads}" --nodes "${num_nodes}")
if "${array}"; then
    throttle=""
    [ "${max_jobs_run}" -gt 0 ] && throttle="%${max_jobs_run}"
    opts+=(--array "${first}-${last}${throttle}")
fi
if [ "${gpu}" -gt 0 ]; then
    opts+=(--gres "gpu:${gpu}")
    [ -n "${slurm_gpu_partition}" ] && opts+=(--partition "${slurm_gpu_partition}")
elif [ -n "${slurm_partition}" ]; then
    opts+=(--partition "${slurm_partition}")
fi
[ -n "${mem}" ] && opts+=(--mem "${mem}")
[ -n "${time_limit}" ] && opts+=(--time "${time_limit}")
if [ -n "${slurm_extra_opts}" ]; then
    read -r -a extra <<<"${slurm_extra_opts}"
    opts+=("${extra[@]}")
fi
opts+=("${script}")

if [ "${dry_run}" = true ]; then
    echo "${opts[*]}"
    exit 0
fi
command -v sbatch >/dev/null || { echo "$0: sbatch not found: is Slurm installed here? (set cmd_backend=local in cmd.sh)" >&2; exit 1; }
if ! "${opts[@]}" >/dev/null; then
    echo "$0: Slurm job failed, log is in ${log} (batch script ${script})" >&2
    exit 1
fi
