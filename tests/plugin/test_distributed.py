"""Two CPU ranks (torchrun, gloo) through ESPnet's trainer: same selections, no hang."""

from __future__ import annotations

import json
import socket

from conftest import log_tail, run_module

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
        "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1",
        "--master_port", str(free_port()),
        "-m", "espnet_ddp.bin.asr_train",
        *train_command(
            tiny_corpus, exp, tiny_corpus / "tiny.yaml",
            "--max_epoch", str(EPOCHS),
            "--data_pruning", "easy2hard",
            "--data_pruning_conf", "keep_ratio=0.5",
            "--time_drop", "chunk",
            "--multiprocessing_distributed", "false",
            "--dist_backend", "gloo",
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

    for epoch in range(1, EPOCHS + 1):
        rec = json.loads((d / f"epoch{epoch}.json").read_text())
        assert rec["selection_digest"] == rank0[epoch - 1].split()[1]
        assert rec["kept_utterances"] == (24 if epoch == 1 else 12)
        # each rank trained half of every batch; the gathered scores cover every kept utterance
        assert sorted(rec["scores"]) == rec["kept"]
        assert rec["optimizer_steps"] == rec["num_batches"]
    assert "The training was finished at 3 epochs" in log.read_text()
