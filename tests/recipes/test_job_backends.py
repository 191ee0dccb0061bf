"""The recipes' job backends (``cmd.sh``): ``utils/run_local.sh`` runs job arrays here, a log per
job; ``utils/run_slurm.sh`` builds the ``sbatch`` command and batch script (Slurm is not installed
here, so its dry run is checked) and runs that script's job body as Slurm would."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UTILS = REPO / "egs2" / "TEMPLATE" / "asr1" / "utils"


def run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_local_array_writes_one_log_per_job_with_its_exit_status(tmp_path):
    proc = run(UTILS / "run_local.sh", "JOB=1:3", "log/job.JOB.log",
               "echo", "task JOB of 3", "|", "tr", "a-z", "A-Z", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for j in (1, 2, 3):
        lines = (tmp_path / "log" / f"job.{j}.log").read_text().splitlines()
        assert f"TASK {j} OF 3" in lines
        assert lines[-1].startswith("# Ended (code 0)")


def test_local_array_fails_when_any_job_fails_and_names_the_logs(tmp_path):
    proc = run(UTILS / "run_local.sh", "--max_jobs_run", "1", "JOB=1:3", "log/j.JOB.log",
               "test", "JOB", "-ne", "2", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1
    assert "1 / 3 failed, log is in log/j.JOB.log" in proc.stderr
    last = {j: (tmp_path / "log" / f"j.{j}.log").read_text().splitlines()[-1] for j in (1, 2, 3)}
    assert last[2].startswith("# Ended (code 1)") and last[3].startswith("# Ended (code 0)")


def test_slurm_dry_run_builds_the_sbatch_command(tmp_path):
    conf = tmp_path / "slurm.conf"
    conf.write_text('slurm_partition="cpu"\nslurm_gpu_partition="gpu"\n'
                    'slurm_extra_opts="--account asr --qos normal"\n')  # fmt: skip
    args = ["--config", conf, "--mem", "8G", "--num_threads", "4", "--max_jobs_run", "2"]
    proc = run(UTILS / "run_slurm.sh", *args, "JOB=1:5", "exp/log/dec.JOB.log",
               "python3", "-m", "x", "--part", "JOB", cwd=tmp_path,
               env={"SLURM_DRY_RUN": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "exp" / "log" / "q" / "dec.sh"
    assert shlex.split(proc.stdout) == [
        "sbatch", "--wait", "--parsable", "--job-name", "dec",
        "--output", "exp/log/q/dec.%A_%a.out", "--cpus-per-task", "4", "--nodes", "1",
        "--array", "1-5%2", "--partition", "cpu", "--mem", "8G",
        "--account", "asr", "--qos", "normal", "exp/log/q/dec.sh",
    ]  # fmt: skip
    gpu = run(UTILS / "run_slurm.sh", "--config", conf, "--gpu", "2", "--name", "train",
              "exp/train.log", "true", cwd=tmp_path, env={"SLURM_DRY_RUN": "1"})  # fmt: skip
    words = shlex.split(gpu.stdout)
    assert words[words.index("--gres") + 1] == "gpu:2"
    assert words[words.index("--partition") + 1] == "gpu"
    assert words[words.index("--job-name") + 1] == "train" and "--array" not in words

    # The batch script runs the array task that Slurm names, and logs like run_local.sh.
    body = run("bash", script, cwd=tmp_path, env={"SLURM_ARRAY_TASK_ID": "4"})
    assert body.returncode == 1  # python3 -m x: no such module
    log = (tmp_path / "exp" / "log" / "dec.4.log").read_text()
    assert "--part 4" in log.splitlines()[0] and "No module named x" in log
    assert log.splitlines()[-1].startswith("# Ended (code 1)")


def test_slurm_without_sbatch_says_what_to_do(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SLURM_DRY_RUN": "0"}
    proc = run(UTILS / "run_slurm.sh", "log/a.log", "true", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert "sbatch not found" in proc.stderr and "cmd_backend=local" in proc.stderr
