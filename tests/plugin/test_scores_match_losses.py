"""Stored scores equal the per-utterance losses recomputed with the trained model, same mode."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import torch
import yaml
from conftest import TINY_EPOCHS, log_tail, run_module

from espnet_ddp.report.pruning_log import read_pruning_log
from plugin.corpus import train_command


def test_scores_equal_recomputed_losses(tiny_experiment, tiny_corpus, tmp_path):
    """One more epoch from the trained model with lr 0: the model cannot change during it.

    Batches of one utterance keep BatchNorm statistics per utterance, so recomputing each
    utterance alone in training mode must give the loss the plugin recorded.
    """
    exp = tmp_path / "asr_lr0"
    exp.mkdir()
    args = train_command(
        tiny_corpus, exp, tiny_corpus / "tiny.yaml",
        "--max_epoch", "1",
        "--init_param", str(tiny_experiment / f"{TINY_EPOCHS}epoch.pth"),
        "--optim", "sgd", "--optim_conf", "lr=0.0",
        "--scheduler", "none",
        "--batch_type", "unsorted", "--batch_size", "1",
    )
    proc = run_module("espnet_ddp.bin.asr_train", args, exp / "train.log")
    assert proc.returncode == 0, log_tail(exp / "train.log")
    (record,) = read_pruning_log(exp).epochs
    stored = record.scores  # from the epoch's binary part (epoch1.npz)
    assert len(stored) == 24

    from espnet2.tasks.asr import ASRTask

    model, train_args = ASRTask.build_model_from_file(
        exp / "config.yaml", exp / "1epoch.pth", device="cpu"
    )
    config = yaml.safe_load((exp / "config.yaml").read_text())
    w = config["model_conf"]["ctc_weight"]
    preprocess = ASRTask.build_preprocess_fn(train_args, train=False)
    model.train()  # the mode the scores were taken in (dropout is 0 in the tiny config)
    wav_scp = (tiny_corpus / "data/train/wav.scp").read_text().splitlines()
    wavs = dict(line.split() for line in wav_scp)
    texts = dict(
        line.split(" ", 1) for line in (tiny_corpus / "data/train/text").read_text().splitlines()
    )
    recomputed = {}
    with torch.no_grad():
        for utt, path in wavs.items():
            wav, _ = sf.read(path, dtype="float32")
            data = preprocess(utt, {"speech": wav, "text": texts[utt]})
            tokens = torch.as_tensor(data["text"]).long()[None]
            speech = torch.as_tensor(data["speech"])[None]
            _, stats, _ = model(
                speech=speech,
                speech_lengths=torch.tensor([speech.shape[1]]),
                text=tokens,
                text_lengths=torch.tensor([tokens.shape[1]]),
            )
            loss = w * stats["loss_ctc"].item() + (1 - w) * stats["loss_att"].item()
            recomputed[utt] = loss / tokens.shape[1]
    ids = sorted(stored)
    np.testing.assert_allclose(
        [stored[u] for u in ids], [recomputed[u] for u in ids], rtol=1e-4, atol=1e-5
    )
