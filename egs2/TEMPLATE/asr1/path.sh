# Environment of the recipes (sourced by asr.sh and the job scripts).
# Uses the active virtual environment; otherwise the repository's .venv when there is one.
_ddp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." 2>/dev/null && pwd)
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x "${_ddp_root}/.venv/bin/python3" ]; then
    export PATH="${_ddp_root}/.venv/bin:${PATH}"
fi
unset _ddp_root
export PATH="${PWD}/utils:${PATH}"
export LC_ALL=C.UTF-8
export PYTHONIOENCODING=UTF-8
export PYTHONUNBUFFERED=1
# One BLAS thread per process unless the caller chose otherwise (jobs run in parallel); asr.sh
# gives the training job (stage 11) the cores instead (--train_omp_threads).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
