"""The sweep's committed results, one folder per seed, and ``RESULTS_sweep.md`` rebuilt from all.

A GPU machine is lent for minutes at a time, so the sweep is run one seed per lease and every
lease adds a folder; nothing is lost between leases. Layout::

    bench/gpu/results/sweep/seed<N>/
        run.json                      machine, versions, commit, date, plan, phase seconds,
                                      statuses, decoded utterances per set
        exp/<variant>/config.yaml     ESPnet's, as the training wrote it
        exp/<variant>/train.log       ESPnet's log lines, less the per-batch ones
        exp/<variant>/data_pruning/epoch<K>.json   the plugin's records, per-utterance lists cut
        exp/<variant>/RESULTS.md      WER/CER per set (what ``compare`` reads)
        exp/<variant>/<tag>/<set>/score_wer/per_utt.tsv   per-utterance errors (the intervals)
        refs/<tag>/<set>/text         the references of the decoded utterances

``<tag>``: ``decode_ctc_greedy`` (every utterance, batched CTC greedy search) and
``decode_beam<N>`` (ESPnet's joint beam search, as many dev utterances as the deadline left).

Responsible for writing a seed's folder (:func:`save_run`, after every finished training and
again after scoring, each file atomically, so a command cut short keeps what finished), reading
every seed back (:func:`load_seeds`) and the all-seeds comparison (:func:`all_seeds`) through
:func:`espnet_ddp.report.table.build_comparison`: configurations are grouped over seeds by their
``config.yaml`` and the frontier is built from seed means. Not responsible for the Markdown
(:mod:`gpu.sweep_report`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from espnet_ddp.core.atomic_io import write_text_atomic
from espnet_ddp.report.experiment import Experiment, load_experiment
from espnet_ddp.report.table import Comparison, build_comparison
from espnet_ddp.report.train_log import LOG_LINE as _LOG_LINE

BULKY = ("kept", "scores", "weights")  # per-utterance lists of a record: not committed
_PER_BATCH = re.compile(r"\d+epoch:train:\d+-\d+batch:")


def epoch_lines(log: str) -> str:
    r"""ESPnet's timestamped log lines of ``log`` without the per-batch ones (what the reports
    read: epoch starts and results, and the lines that end each epoch), and without the
    configuration dump that is not a log line.

    >>> text = "[h] 2026-12-04 10:00:00,000 (trainer:1) INFO: 1epoch:train:1-10batch: loss=1\n"
    >>> text += "[h] 2026-12-04 10:00:01,000 (trainer:2) INFO: 1epoch results: [train] loss=1\n"
    >>> text += "  encoder: conformer\n"
    >>> epoch_lines(text).count("\n"), "results" in epoch_lines(text)
    (1, True)
    """
    keep = [line for line in log.splitlines() if _LOG_LINE.match(line) and not
            _PER_BATCH.search(line)]  # fmt: skip
    return "\n".join(keep) + ("\n" if keep else "")
SEED_DIR = re.compile(r"^seed(\d+)$")


def seed_dir(root: Path, seed: int) -> Path:
    """``root/seed<seed>``."""
    return root / f"seed{seed}"


def save_experiment(exp: Path, dest: Path) -> None:
    """Copy what a comparison needs of one experiment folder ``exp`` into ``dest``.

    >>> import tempfile
    >>> src, dst = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp()) / "run"
    >>> _ = (src / "config.yaml").write_text("seed: 0\\n")
    >>> (src / "data_pruning").mkdir()
    >>> _ = (src / "data_pruning" / "epoch1.json").write_text('{"epoch": 1, "kept": ["a"]}')
    >>> save_experiment(src, dst)
    >>> sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    ['config.yaml', 'data_pruning/epoch1.json']
    >>> json.loads((dst / "data_pruning" / "epoch1.json").read_text())
    {'epoch': 1}
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "RESULTS.md"):
        if (exp / name).is_file():
            write_text_atomic(dest / name, (exp / name).read_text(errors="replace"))
    if (exp / "train.log").is_file():
        write_text_atomic(dest / "train.log", epoch_lines((exp / "train.log").read_text(
            errors="replace")))  # fmt: skip
    for record in sorted((exp / "data_pruning").glob("epoch*.json")):
        raw = json.loads(record.read_text())
        for key in BULKY:
            raw.pop(key, None)
        (dest / "data_pruning").mkdir(exist_ok=True)
        write_text_atomic(dest / "data_pruning" / record.name, json.dumps(raw, indent=1) + "\n")
    for per_utt in sorted(exp.glob("decode*/*/score_wer/per_utt.tsv")):
        target = dest / per_utt.relative_to(exp)
        write_text_atomic(target, per_utt.read_text(encoding="utf-8"))


def save_run(
    root: Path, seed: int, out: Path, names: Sequence[str], run: dict,
    refs: dict[str, Path] | None = None,
) -> Path:  # fmt: skip
    """Write seed ``seed``'s folder under ``root``: ``run.json`` and the experiments ``names``
    of ``out/exp`` (those that exist), and the references ``refs`` (``<tag>/<set>`` -> text
    file)."""
    dest = seed_dir(root, seed)
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (out / "exp" / name).is_dir():
            save_experiment(out / "exp" / name, dest / "exp" / name)
    for key, text in (refs or {}).items():
        (dest / "refs" / key).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(text, dest / "refs" / key / "text")
    write_text_atomic(dest / "run.json", json.dumps(run, indent=1, default=str) + "\n")
    return dest


def load_seeds(root: Path) -> dict[int, dict]:
    """Seed -> its ``run.json``, for every ``seed<N>`` folder under ``root``, by seed."""
    seeds = {}
    for path in sorted(root.glob("seed*")):
        match = SEED_DIR.match(path.name)
        if match and (path / "run.json").is_file():
            seeds[int(match[1])] = json.loads((path / "run.json").read_text())
    return dict(sorted(seeds.items()))


def experiments_of(root: Path, seed: int, names: Sequence[str]) -> list[Experiment]:
    """The saved experiments of one seed, named ``<variant>@seed<N>``, in ``names`` order."""
    base = seed_dir(root, seed) / "exp"
    return [load_experiment(base / name, name=f"{name}@seed{seed}")
            for name in names if (base / name).is_dir()]  # fmt: skip


def all_seeds(root: Path, names: Sequence[str]) -> tuple[Comparison, list[Experiment]] | None:
    """The comparison of every saved run of every seed (None when there is none).

    Seeds of one variant share their ``config.yaml`` but for the seed, so the frontier's
    configurations are seed means; the first saved run of ``names[0]`` is the reference.
    """
    experiments = [e for seed in load_seeds(root) for e in experiments_of(root, seed, names)]
    if not experiments:
        return None
    return build_comparison(experiments, baseline=0, reference=0), experiments
