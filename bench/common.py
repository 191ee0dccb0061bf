"""Shared pieces of the benchmarks: corpus, statistics, training launches, per-epoch figures.

Responsible for: building a synthetic corpus with the project's own tools (``synth_corpus``,
``token_list``), ESPnet's statistics stage (shape files, ``feats_stats.npz``), launching trainings
(optionally in rounds, see ``round_train.py``) and reading back what each epoch recorded. Not
responsible for deciding what to compare: ``speedup.py`` and ``gpu/full.py`` do that.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"

BASELINE = ["--data_pruning", "none", "--time_drop", "none"]


def _conf(option: str, conf: str) -> list[str]:
    """``--x_conf a=1,b=2`` as ESPnet's NestedDictAction wants it: one ``--x_conf k=v`` each."""
    out: list[str] = []
    for item in filter(None, conf.split(",")):
        out += [option, item]
    return out


def easy2hard(keep: float = 0.7, extra: str = "") -> list[str]:
    """Options of Easy2hard pruning keeping ``keep`` of the utterances (``extra``: ``k=v,...``)."""
    conf = f"keep_ratio={keep:g}" + (f",{extra}" if extra else "")
    return ["--data_pruning", "easy2hard", *_conf("--data_pruning_conf", conf)]


def chunk_drop(ratio: float = 0.3, chunk_ms: float = 20, extra: str = "") -> list[str]:
    """Options of chunk-wise time dropping (``extra``: more ``k=v,...`` settings)."""
    conf = f"drop_ratio={ratio:g},chunk_ms={chunk_ms:g}" + (f",{extra}" if extra else "")
    return ["--time_drop", "chunk", *_conf("--time_drop_conf", conf)]


def log(msg: str) -> None:
    """A timestamped progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env_for_children(threads: int | None = None) -> dict[str, str]:
    """Environment of child processes: the repository importable, optional thread cap."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), str(BENCH), env.get("PYTHONPATH", "")) if p
    )
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def run_logged(
    cmd: Sequence[str], log_path: Path, env: dict[str, str] | None = None, append: bool = False
) -> float:
    """Run ``cmd`` with output into ``log_path``; returns its wall seconds, raises on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log_path.open("a" if append else "w") as f:
        proc = subprocess.run(list(cmd), stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return time.perf_counter() - start


@dataclass(frozen=True)
class Corpus:
    """A synthesized corpus: Kaldi data directories, char token list and ESPnet statistics."""

    root: Path
    test_sets: tuple[str, ...] = ()

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def token_list(self) -> Path:
        return self.root / "token_list" / "tokens.txt"

    @property
    def stats(self) -> Path:
        return self.root / "stats"

    def data_args(self) -> list[str]:
        """The data, token and shape options of a training on this corpus."""
        args = ["--use_preprocessor", "true", "--token_type", "char"]
        args += ["--token_list", str(self.token_list)]
        for split, name in (("train", "train"), ("valid", "dev")):
            d = self.data / name
            args += [f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound"]
            args += [f"--{split}_data_path_and_name_and_type", f"{d}/text,text,text"]
            args += [f"--{split}_shape_file", str(self.stats / split / "speech_shape")]
            args += [f"--{split}_shape_file", str(self.stats / split / "text_shape")]
        return args

    def normalize_args(self) -> list[str]:
        """Global mean/variance normalization from the statistics stage."""
        stats = self.stats / "train" / "feats_stats.npz"
        return ["--normalize", "global_mvn", "--normalize_conf", f"stats_file={stats}"]

    def hours(self, split: str = "train") -> float:
        """Audio hours of a split, from the statistics' shape file."""
        total = 0
        shape = self.stats / ("train" if split == "train" else "valid") / "speech_shape"
        for line in shape.open():
            total += int(line.split()[1].split(",")[0])
        return total / 16000 / 3600


def build_corpus(
    root: Path,
    *,
    num_train: int,
    num_dev: int,
    num_test: int,
    nj: int,
    config: Path,
    seed: int = 0,
    num_test_indomain: int = 0,
    heldout_sets: Sequence[str] | None = None,
) -> Corpus:
    """Synthesize (or reuse) a corpus under ``root`` and run ESPnet's statistics stage on it.

    ``config`` is the training YAML: the statistics need its model and frontend. Test sets:
    ``test_indomain`` (training voices, held-out sentences) with ``num_test_indomain`` utterances,
    first, then the held-out-voice sets ``heldout_sets`` (default: all) with ``num_test`` each.
    Reuses everything already written for the same sizes (a ``corpus.json`` stamp records them,
    with the frontend the statistics were collected for: another frontend collects them again).
    """
    from espnet_ddp.tools import synth_corpus, token_list

    stamp = root / "corpus.json"
    heldout = sorted(synth_corpus.TEST_VOICES) if heldout_sets is None else list(heldout_sets)
    want: dict = {"num_train": num_train, "num_dev": num_dev, "num_test": num_test, "seed": seed}
    if num_test_indomain or heldout_sets is not None:
        want.update(num_test_indomain=num_test_indomain, heldout_sets=heldout)
    test_sets = ((synth_corpus.INDOMAIN,) if num_test_indomain > 0 else ()) + (
        tuple(heldout) if num_test > 0 else ()
    )
    corpus = Corpus(root, test_sets)
    frontend = frontend_of(config)
    if stamp.exists():
        have = json.loads(stamp.read_text())
        if {k: v for k, v in have.items() if k != "frontend"} == want:
            if have.get("frontend") != frontend:  # the same audio, other features: new stats
                collect_stats(corpus, config, nj=nj)
                stamp.write_text(json.dumps({**want, "frontend": frontend}))
            return corpus
    for stale in ("data", "stats", "token_list"):
        shutil.rmtree(root / stale, ignore_errors=True)
    log(f"synthesizing {num_train}/{num_dev}/{num_test} utterances into {root}")
    rc = synth_corpus.main(
        [
            "--wav_dir", str(root / "wav"), "--data_root", str(root / "data"),
            "--num_train", str(num_train), "--num_dev", str(num_dev),
            "--num_test", str(num_test), "--seed", str(seed), "--nj", str(nj),
            "--num_test_indomain", str(num_test_indomain), "--heldout_sets", *heldout,
        ]
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError("synth_corpus failed")
    if token_list.main(["--token_type", "char", str(root / "data/train/text"),
                        str(root / "token_list")]) != 0:  # fmt: skip
        raise RuntimeError("token_list failed")
    collect_stats(corpus, config, nj=nj)
    stamp.write_text(json.dumps({**want, "frontend": frontend}))
    return corpus


def frontend_of(config: Path) -> dict:
    """What the statistics depend on besides the audio: the training YAML's frontend."""
    import yaml

    conf = yaml.safe_load(config.read_text()) or {}
    return {"frontend": conf.get("frontend", "default"), "conf": conf.get("frontend_conf") or {}}


class CorpusPlan(Protocol):
    """The sizes and training YAML of a CPU benchmark plan (``speedup.py``'s ``Plan``)."""

    @property
    def num_train(self) -> int: ...

    @property
    def num_dev(self) -> int: ...

    def config(self) -> str: ...


def shared_cpu_corpus(plan: CorpusPlan, out: Path, nj: int = 2) -> tuple[Corpus, Path]:
    """Write ``plan``'s training YAML to ``out/config.yaml``; build the CPU benchmarks' corpus.

    The corpus, ``bench/out/corpus_<num_train>`` without test sets, is shared by ``speedup.py``,
    ``first_batch.py`` and ``profile_epoch.py`` (built by the first of them, then reused).
    Returns the corpus and the path of the YAML.
    """
    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.yaml"
    config.write_text(plan.config())
    corpus = build_corpus(
        BENCH / "out" / f"corpus_{plan.num_train}",
        num_train=plan.num_train, num_dev=plan.num_dev, num_test=0, nj=nj, config=config,
    )  # fmt: skip
    return corpus, config


def collect_stats(corpus: Corpus, config: Path, nj: int) -> None:
    """ESPnet's own statistics stage (stock ``espnet2.bin.asr_train --collect_stats true``)."""
    log("collecting statistics (shape files, feats_stats.npz)")
    out = corpus.stats
    shutil.rmtree(out, ignore_errors=True)
    args = ["--collect_stats", "true", "--use_preprocessor", "true", "--token_type", "char"]
    args += ["--token_list", str(corpus.token_list), "--normalize", "none"]
    for split, name in (("train", "train"), ("valid", "dev")):
        d = corpus.data / name
        args += [f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound"]
        args += [f"--{split}_data_path_and_name_and_type", f"{d}/text,text,text"]
        args += [f"--{split}_shape_file", f"{d}/wav.scp"]
    args += ["--output_dir", str(out), "--ngpu", "0", "--num_workers", str(max(nj - 1, 0))]
    args += ["--batch_size", "8", "--config", str(config)]
    cmd = [sys.executable, "-m", "espnet2.bin.asr_train", *args]
    run_logged(cmd, corpus.root / "collect_stats.log", env_for_children())


# -- reading results ----------------------------------------------------------------------------


def load_records(exp: Path) -> list[dict]:
    """The plugin's per-epoch records of an experiment, in epoch order (bulky lists dropped)."""
    out = []
    for path in (exp / "data_pruning").glob("epoch*.json"):
        rec = json.loads(path.read_text())
        for bulky in ("kept", "scores", "weights"):
            rec.pop(bulky, None)
        out.append(rec)
    return sorted(out, key=lambda r: r["epoch"])


def epoch_walls(exp: Path) -> dict[int, float]:
    """Wall seconds of each epoch (start to the next start: train, validation, checkpoint)."""
    from espnet_ddp.report.train_log import parse_train_log

    text = "".join(p.read_text(errors="replace") for p in sorted(exp.glob("train*.log")))
    parsed = parse_train_log(text)
    return {e.epoch: e.wall_seconds for e in parsed.epochs if e.wall_seconds is not None}


def epoch_stats(exp: Path) -> dict[int, dict[str, dict[str, float]]]:
    """ESPnet's ``Nepoch results`` statistics per epoch (``train``/``valid`` sections)."""
    from espnet_ddp.report.train_log import parse_train_log

    text = "".join(p.read_text(errors="replace") for p in sorted(exp.glob("train*.log")))
    return {e.epoch: e.stats for e in parse_train_log(text).epochs if e.stats}


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


@dataclass
class Summary:
    """Per-variant figures over the compared epochs."""

    name: str
    epochs: list[int]
    train_seconds: float | None
    wall_seconds: float | None
    steps: float | None
    batches: float | None
    fed_seconds: float | None
    kept_seconds: float | None
    plugin_seconds: float | None
    overhead: float | None
    per_epoch: list[dict] = field(default_factory=list)


def summarize(name: str, exp: Path, epochs: Sequence[int]) -> Summary:
    """Median figures of ``epochs`` of one experiment."""
    recs = {r["epoch"]: r for r in load_records(exp)}
    walls = epoch_walls(exp)
    chosen = [recs[e] for e in epochs if e in recs]

    def med(key: str) -> float | None:
        return median([float(r[key]) for r in chosen])

    per_epoch = [
        {
            "epoch": r["epoch"],
            "phase": r["phase"],
            "train_seconds": r["train_seconds"],
            "wall_seconds": walls.get(r["epoch"]),
            "optimizer_steps": r["optimizer_steps"],
            "num_batches": r["num_batches"],
            "fed_seconds": r["fed_seconds"],
            "plugin_seconds": r["plugin_seconds"],
        }
        for r in sorted(recs.values(), key=lambda r: r["epoch"])
    ]
    return Summary(
        name=name,
        epochs=[r["epoch"] for r in chosen],
        train_seconds=med("train_seconds"),
        wall_seconds=median([walls[e] for e in epochs if e in walls]),
        steps=med("optimizer_steps"),
        batches=med("num_batches"),
        fed_seconds=med("fed_seconds"),
        kept_seconds=med("kept_seconds"),
        plugin_seconds=med("plugin_seconds"),
        overhead=median([r["plugin_seconds"] / r["train_seconds"] for r in chosen]),
        per_epoch=per_epoch,
    )
