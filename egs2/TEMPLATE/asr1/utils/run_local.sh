#!/usr/bin/env bash
# Local job backend, in the manner of Kaldi's run.pl: runs a command (or an array of jobs) on this
# machine, each job with its own log file that ends with its exit status.
#
#   run_local.sh [options] [JOB=1:N] LOG command [args...]
#
# "JOB" in LOG and in the arguments becomes the job number. Arguments without white space are joined
# as they are (so "|" makes a pipe); arguments with white space are quoted. Options: --max_jobs_run N
# (jobs at a time; default all), and --gpu/--mem/--num_threads/--name, accepted for compatibility
# with other backends and ignored. The exit status is 0 only when every job succeeded.
set -euo pipefail

max_jobs_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --max_jobs_run) max_jobs_run="$2"; shift 2 ;;
        --gpu|--mem|--num_threads|--name|--num_nodes|--config|--time) shift 2 ;;
        --gpu=*|--mem=*|--num_threads=*|--name=*|--num_nodes=*|--config=*|--time=*) shift ;;
        *) break ;;
    esac
done
if [ $# -lt 2 ]; then
    echo "usage: $0 [options] [JOB=1:N] LOG command [args...]" >&2
    exit 1
fi

first=1; last=1; array=false
if [[ "$1" =~ ^([A-Za-z_]+)=([0-9]+):([0-9]+)$ ]]; then
    [ "${BASH_REMATCH[1]}" = JOB ] || { echo "$0: only the JOB variable is supported: $1" >&2; exit 1; }
    first="${BASH_REMATCH[2]}"; last="${BASH_REMATCH[3]}"; array=true
    shift
fi
log_tmpl="$1"; shift
[ $# -gt 0 ] || { echo "$0: no command given" >&2; exit 1; }

cmd_tmpl=""
for a in "$@"; do
    if [[ "${a}" =~ [[:space:]] ]] || [ -z "${a}" ]; then
        cmd_tmpl+="$(printf '%q' "${a}") "
    else
        cmd_tmpl+="${a} "
    fi
done

run_one() {
    local j="$1" log cmd start rc
    if "${array}"; then
        log="${log_tmpl//JOB/${j}}"; cmd="${cmd_tmpl//JOB/${j}}"
    else
        log="${log_tmpl}"; cmd="${cmd_tmpl}"
    fi
    mkdir -p "$(dirname "${log}")"
    start=$(date +%s)
    {
        echo "# ${cmd}"
        echo "# Started at $(date)"
    } >"${log}"
    set +e
    ( export JOB="${j}"; bash -o pipefail -c "${cmd}" ) >>"${log}" 2>&1
    rc=$?
    set -e
    {
        echo "# Accounting: time=$(( $(date +%s) - start )) threads=1"
        echo "# Ended (code ${rc}) at $(date)"
    } >>"${log}"
    return "${rc}"
}

pids=(); jobs_of=()
failed=0
for ((j = first; j <= last; j++)); do
    if [ "${max_jobs_run}" -gt 0 ] && [ "${#pids[@]}" -ge "${max_jobs_run}" ]; then
        wait "${pids[0]}" || failed=$((failed + 1))
        pids=("${pids[@]:1}"); jobs_of=("${jobs_of[@]:1}")
    fi
    run_one "${j}" &
    pids+=("$!"); jobs_of+=("${j}")
done
for i in "${!pids[@]}"; do
    wait "${pids[${i}]}" || failed=$((failed + 1))
done

if [ "${failed}" -gt 0 ]; then
    if "${array}"; then
        echo "$0: ${failed} / $((last - first + 1)) failed, log is in ${log_tmpl}" >&2
    else
        echo "$0: job failed, log is in ${log_tmpl}" >&2
    fi
    exit 1
fi
