# Job backend of the recipe, chosen as in ESPnet: set cmd_backend (here or in the environment).
#   local: jobs run on this machine, in parallel, one log per job (utils/run_local.sh)
#   slurm: jobs are submitted with sbatch (utils/run_slurm.sh; partitions in conf/slurm.conf)
cmd_backend="${cmd_backend:-local}"

case "${cmd_backend}" in
    local)
        export train_cmd="utils/run_local.sh"
        export cuda_cmd="utils/run_local.sh"
        export decode_cmd="utils/run_local.sh"
        ;;
    slurm)
        export train_cmd="utils/run_slurm.sh --config conf/slurm.conf"
        export cuda_cmd="utils/run_slurm.sh --config conf/slurm.conf"
        export decode_cmd="utils/run_slurm.sh --config conf/slurm.conf"
        ;;
    *)
        echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local or slurm)" >&2
        return 1 2>/dev/null || exit 1
        ;;
esac
