"""The command lines of ESPnet's own ``egs2/TEMPLATE/asr1/asr.sh`` for stages 10 and 11.

Written from reading ESPnet's ``asr.sh`` (not copied; it is not in any package): the same
modules, options, option order and ``--python`` handling. ``${python}`` is expanded unquoted
there, so it is split on white space here too, and jobs go through the job backend
(``${train_cmd}``, ``${cuda_cmd}``) as ``run.pl``-style command lines.

Only what a raw-waveform, char-token, single-reference recipe runs is built: no
``--num_splits_asr``, no pretrained model.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class StockRecipe:
    """The asr.sh variables these stages read (names as in asr.sh)."""

    python: str  # --python, word-split like ${python}
    train_cmd: str  # cmd.sh: ${train_cmd} and ${cuda_cmd} are both this backend
    train_dir: Path  # ${data_feats}/${train_set}
    valid_dir: Path  # ${data_feats}/${valid_set}
    token_list: Path
    asr_stats_dir: Path
    asr_exp: Path
    asr_config: Path
    asr_args: str = ""  # --asr_args, word-split like ${asr_args}
    ngpu: int = 0  # stock default is 1; a CPU run passes --ngpu 0
    nj: int = 1
    fs: str = "16k"
    token_type: str = "char"
    asr_speech_fold_length: int = 800
    asr_text_fold_length: int = 150
    env: dict = field(default_factory=dict)

    def py(self) -> list[str]:
        return self.python.split()

    def backend(self) -> list[str]:
        return self.train_cmd.split()

    def common_opts(self) -> list[str]:
        """The tokenizer options both stages pass, quoted in asr.sh (single words)."""
        return [
            "--use_preprocessor", "true",
            "--bpemodel", "none",
            "--token_type", self.token_type,
            "--token_list", str(self.token_list),
            "--non_linguistic_symbols", "none",
            "--cleaner", "none",
            "--g2p", "none",
        ]  # fmt: skip

    def run(self, cmd: list[str], log: Path, timeout: int) -> subprocess.CompletedProcess:
        """Run ``cmd`` in its own process group; on a timeout the whole group is killed.

        The stages' timeouts only guard against hangs: at nice 19 on 2 cores held by a nice-0
        campaign, stage 10 took 18 minutes of wall time for about 20 s of CPU.
        """
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as f:
            proc = subprocess.Popen(
                cmd, stdout=f, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        return subprocess.CompletedProcess(cmd, proc.returncode)

    # ---- stage 10: collect stats --------------------------------------------------------
    def stage10(self, timeout: int = 3600) -> list[subprocess.CompletedProcess]:
        """Split the keys, run the collect-stats jobs, aggregate, append the vocabulary size."""
        logdir = self.asr_stats_dir / "logdir"
        logdir.mkdir(parents=True, exist_ok=True)
        train_scp, valid_scp = self.train_dir / "wav.scp", self.valid_dir / "wav.scp"
        nj = min(self.nj, count_lines(train_scp), count_lines(valid_scp))
        split_scp(train_scp, [logdir / f"train.{n}.scp" for n in range(1, nj + 1)])
        split_scp(valid_scp, [logdir / f"valid.{n}.scp" for n in range(1, nj + 1)])
        opts = [
            "--config", str(self.asr_config),
            "--frontend_conf", f"fs={self.fs}",
            "--train_data_path_and_name_and_type", f"{train_scp},speech,sound",
            "--valid_data_path_and_name_and_type", f"{valid_scp},speech,sound",
            "--train_data_path_and_name_and_type", f"{self.train_dir}/text,text,text",
            "--valid_data_path_and_name_and_type", f"{self.valid_dir}/text,text,text",
        ]  # fmt: skip
        jobs = [
            *self.backend(), f"JOB=1:{nj}", f"{logdir}/stats.JOB.log",
            *self.py(), "-m", "espnet2.bin.asr_train",
            "--collect_stats", "true",
            *self.common_opts(),
            "--train_shape_file", f"{logdir}/train.JOB.scp",
            "--valid_shape_file", f"{logdir}/valid.JOB.scp",
            "--output_dir", f"{logdir}/stats.JOB",
            *opts, *self.asr_args.split(),
        ]  # fmt: skip
        done = [self.run(jobs, logdir / "backend.log", timeout)]
        if done[-1].returncode != 0:
            return done
        aggregate = [*self.py(), "-m", "espnet2.bin.aggregate_stats_dirs"]
        for n in range(1, nj + 1):
            aggregate += ["--input_dir", f"{logdir}/stats.{n}"]
        aggregate += ["--output_dir", str(self.asr_stats_dir)]
        done.append(self.run(aggregate, logdir / "aggregate.log", timeout))
        vocabulary = count_lines(self.token_list)
        for split in ("train", "valid"):
            shapes = (self.asr_stats_dir / split / "text_shape").read_text().splitlines()
            out = self.asr_stats_dir / split / f"text_shape.{self.token_type}"
            out.write_text("".join(f"{line},{vocabulary}\n" for line in shapes))
        return done

    # ---- stage 11: training through espnet2.bin.launch ------------------------------------
    def stage11_command(self) -> list[str]:
        stats = self.asr_stats_dir
        opts = [
            "--config", str(self.asr_config),
            "--frontend_conf", f"fs={self.fs}",
            # feats_normalize=global_mvn (the stock default)
            "--normalize=global_mvn",
            "--normalize_conf", f"stats_file={stats}/train/feats_stats.npz",
            "--train_data_path_and_name_and_type", f"{self.train_dir}/wav.scp,speech,sound",
            "--train_shape_file", f"{stats}/train/speech_shape",
            "--fold_length", str(self.asr_text_fold_length),
            "--train_data_path_and_name_and_type", f"{self.train_dir}/text,text,text",
            "--train_shape_file", f"{stats}/train/text_shape.{self.token_type}",
            "--valid_data_path_and_name_and_type", f"{self.valid_dir}/text,text,text",
            "--valid_shape_file", f"{stats}/valid/text_shape.{self.token_type}",
        ]  # fmt: skip
        return [
            *self.py(), "-m", "espnet2.bin.launch",
            "--cmd", f"{self.train_cmd} --name {self.asr_exp}/train.log",
            "--log", f"{self.asr_exp}/train.log",
            "--ngpu", str(self.ngpu),
            "--num_nodes", "1",
            "--init_file_prefix", f"{self.asr_exp}/.dist_init_",
            "--multiprocessing_distributed", "true", "--",
            *self.py(), "-m", "espnet2.bin.asr_train",
            *self.common_opts(),
            "--valid_data_path_and_name_and_type", f"{self.valid_dir}/wav.scp,speech,sound",
            "--valid_shape_file", f"{stats}/valid/speech_shape",
            "--resume", "true",
            "--ignore_init_mismatch", "false",
            "--fold_length", str(self.asr_speech_fold_length * 100),  # raw: in samples
            "--output_dir", str(self.asr_exp),
            *opts, *self.asr_args.split(),
        ]  # fmt: skip

    def stage11(self, timeout: int = 3600) -> subprocess.CompletedProcess:
        self.asr_exp.mkdir(parents=True, exist_ok=True)
        return self.run(self.stage11_command(), self.asr_exp / "launch.log", timeout)


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def split_scp(path: Path, outputs: list[Path]) -> None:
    """Kaldi's ``split_scp.pl`` without options: contiguous parts, the first ones one longer."""
    lines = path.read_text().splitlines()
    n, extra = divmod(len(lines), len(outputs))
    start = 0
    for i, out in enumerate(outputs):
        size = n + (1 if i < extra else 0)
        out.write_text("".join(f"{x}\n" for x in lines[start : start + size]))
        start += size
