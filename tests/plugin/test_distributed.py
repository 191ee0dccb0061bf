"""Two CPU ranks (gloo): through ESPnet's trainer (same selections, no hang), and the plugin's
own planning on a resume where one rank lacks the score table, or where the ranks disagree."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from conftest import REPO, log_tail, run_module

from espnet_ddp.espnet.distributed import RankInfo
from espnet_ddp.report.pruning_log import read_pruning_log
from plugin.corpus import train_command

EPOCHS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_agree_on_every_epoch(tiny_corpus, tmp_path):
    exp = tmp_path / "asr_ddp"
    exp.mkdir()
    args = [
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "espnet_ddp.bin.asr_train",
        *train_command(
            tiny_corpus,
            exp,
            tiny_corpus / "tiny.yaml",
            "--max_epoch",
            str(EPOCHS),
            "--data_pruning",
            "easy2hard",
            "--data_pruning_conf",
            "keep_ratio=0.5",
            "--time_drop",
            "chunk",
            "--multiprocessing_distributed",
            "false",
            "--dist_backend",
            "gloo",
        ),
    ]
    log = exp / "train.log"
    proc = run_module("torch.distributed.run", args, log, timeout=300)
    assert proc.returncode == 0, log_tail(log)

    d = exp / "data_pruning"
    rank0 = (d / "rank0.digests").read_text().splitlines()
    rank1 = (d / "rank1.digests").read_text().splitlines()
    assert len(rank0) == EPOCHS
    assert rank0 == rank1

    for record in read_pruning_log(exp).epochs:
        rec = record.raw
        assert rec["selection_digest"] == rank0[record.epoch - 1].split()[1]
        assert rec["kept_utterances"] == (24 if record.epoch == 1 else 12)
        # each rank trained half of every batch; the gathered scores cover every kept utterance
        assert sorted(record.scores) == record.kept
        assert rec["optimizer_steps"] == rec["num_batches"]
    assert "The training was finished at 3 epochs" in log.read_text()


# -- resume and agreement with two gloo ranks, no model (plugin/plan_ranks.py) -----------------


def write_shapes(folder: Path, n: int = 60, bump: str | None = None) -> Path:
    """Shape files of ``n`` utterances; ``bump`` lengthens that utterance (a diverging rank)."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"spk{i % 4}-utt{i:03d}" for i in range(n)]
    speech = [8000 + (i * 7919) % 40000 + (1000 if u == bump else 0) for i, u in enumerate(ids)]
    (folder / "speech_shape").write_text("".join(f"{u} {s}\n" for u, s in zip(ids, speech)))
    (folder / "text_shape").write_text("".join(f"{u} {3 + i % 9},30\n" for i, u in enumerate(ids)))
    return folder


def run_ranks(scenarios: list[tuple[list[Path], list[Path], tuple[int, int]]], *extra: str):
    """Two ranks of ``plugin.plan_ranks`` running ``(shapes per rank, out per rank, epochs)``
    scenarios in turn; returns (return codes, outputs, per-rank JSON lines)."""
    env = dict(
        os.environ, PYTHONPATH=f"{REPO}:{REPO / 'tests'}", OMP_NUM_THREADS="1",
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE="2",
    )  # fmt: skip
    procs = []
    for rank in (0, 1):
        cmd = [sys.executable, "-m", "plugin.plan_ranks", *extra]
        for shapes, outs, epochs in scenarios:
            cmd += ["--shapes", str(shapes[rank]), "--out", str(outs[rank])]
            cmd += ["--epochs", *map(str, epochs)]
        procs.append(
            subprocess.Popen(
                cmd,
                env={**env, "RANK": str(rank)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip
        )
    texts = [p.communicate(timeout=240)[0] for p in procs]
    lines = [[json.loads(x) for x in t.splitlines() if x.startswith("{")] for t in texts]
    return [p.returncode for p in procs], texts, lines


def single_rank(shapes: Path, out: Path, first: int, last: int) -> dict[int, list[str]]:
    from plugin.plan_ranks import make_run, train

    return {
        x["epoch"]: x["kept"]
        for x in train(make_run(str(shapes), str(out), RankInfo()), first, last)
    }


def test_a_rank_without_the_score_table_resumes_with_rank_0s(tmp_path):
    shapes = write_shapes(tmp_path / "shapes")
    reference = single_rank(shapes, tmp_path / "reference", 1, 5)
    # interrupted after epoch 3 saved its table, before ESPnet's checkpoint: resume at 3
    single_rank(shapes, tmp_path / "node0", 1, 3)
    assert (tmp_path / "node0" / "data_pruning" / "scores_epoch2.npz").exists()
    node1 = tmp_path / "node1"  # another machine: no shared filesystem, no table
    codes, texts, lines = run_ranks([([shapes, shapes], [tmp_path / "node0", node1], (3, 5))])
    assert codes == [0, 0], texts[0][-3000:] + texts[1][-3000:]
    for rank in (0, 1):
        assert {x["epoch"]: x["kept"] for x in lines[rank]} == {e: reference[e] for e in (3, 4, 5)}
    assert "rank 1 has no" in texts[1] and "took rank 0's score table" in texts[1]
    assert reference[3] != reference[5]  # the window moved: the table mattered


def test_missing_table_or_diverging_ranks_stop_every_rank_before_training(tmp_path):
    same = write_shapes(tmp_path / "same")
    other = write_shapes(tmp_path / "other", bump="spk1-utt013")
    codes, texts, lines = run_ranks(
        [
            # a resume at epoch 3 where no rank has the table after epoch 2
            ([same, same], [tmp_path / "a", tmp_path / "b"], (3, 3)),
            # rank 1 reads other shape files: its plan of epoch 1 differs
            ([same, other], [tmp_path / "c", tmp_path / "d"], (1, 1)),
        ],
        "--expect_error",
    )
    assert codes == [0, 0], texts[0][-3000:] + texts[1][-3000:]
    for rank in (0, 1):
        missing, diverged = (x["error"] for x in lines[rank])
        assert "scores_epoch2.npz" in missing and "rank 0 does not have" in missing
        assert "epoch 1: rank(s) [1] planned other data than rank 0" in diverged
    assert not (tmp_path / "c" / "data_pruning" / "epoch1.json").exists()
