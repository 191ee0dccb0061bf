"""Stock ESPnet ASR configs (shrunk) train through the plugin, and reload in stock ESPnet.

Every config in ``stock_configs/`` trains 3 epochs on the tiny corpus with Easy2hard (keep 0.7)
and 20 ms chunk dropping (0.3); the records, the optimizer steps at the config's own
``accum_grad`` and a stock reload (``Speech2Text``) are checked. Three configs, with pruning off,
must give stock ``espnet2.bin.asr_train``'s per-epoch training losses.
Three trainings are in the default suite (about 110 s together, estimated from the first one's
45 s of CPU on 2026-12-02, which includes ESPnet's import in the test process); the other
trainings and the loss comparisons are ``-m slow``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml
from conftest import log_tail, run_module

from espnet_ddp.report.pruning_log import read_pruning_log
from plugin.corpus import build_corpus
from plugin.stock_runs import EPOCHS, epoch_train_stats, stock_config, stock_train_args

KEEP = 0.7
PRUNING = ["--data_pruning", "easy2hard", "--data_pruning_conf", f"keep_ratio={KEEP}"]
DROP = ["--time_drop", "chunk", "--time_drop_conf", "drop_ratio=0.3"]
MIN_STEPS = 3  # "several" optimizer steps in every epoch, at the config's accum_grad

# Default suite: conformer (numel, accum_grad 4, use_amp), transformer (numel, accum_grad 4),
# RNN (folded, ReduceLROnPlateau + patience). Budget: 45 s each (the first one also pays the
# in-process import of ESPnet's inference, ~15 s); measured: 45 s of CPU for the first.
DEFAULT = ["ls100_conformer_amp.yaml", "tedlium2_transformer.yaml", "an4_rnn.yaml"]
# -m slow, budget 60 s each.
SLOW = [
    "ls100_e_branchformer_amp.yaml",
    "an4_transformer.yaml",
    "wsj_transformer.yaml",
    "wsj_rnn_sorted.yaml",
    "tedlium2_ctc_conformer_amp.yaml",
    "aishell_conformer.yaml",
    "an4_conformer_ctc_amp.yaml",
]
# accum_grad 16 needs 32+ batches for two steps: trained on a 72-utterance corpus (budget 120 s).
LARGE_CORPUS = {"ls100_conformer_interctc.yaml"}


@pytest.fixture(scope="session")
def corpus_72(tiny_corpus, tmp_path_factory) -> Path:
    """72 training and 6 validation utterances, same grammar and voices as the tiny corpus."""
    return build_corpus(tmp_path_factory.mktemp("corpus_72"), n_train=72, n_valid=6, seed=1)


def train_stock(corpus: Path, exp: Path, name: str, *extra: str) -> Path:
    exp.mkdir(parents=True)
    proc = run_module(
        "espnet_ddp.bin.asr_train", stock_train_args(corpus, exp, name, *extra), exp / "train.log"
    )
    assert proc.returncode == 0, log_tail(exp / "train.log")
    return exp


def check_records(exp: Path, conf: dict, n_train: int) -> None:
    accum = int(conf.get("accum_grad", 1))
    log = read_pruning_log(exp)
    assert [e.epoch for e in log.epochs] == list(range(1, EPOCHS + 1))
    kept = math.floor(KEEP * n_train + 0.5)
    for e in log.epochs:
        rec = e.raw
        assert rec["phase"] == ("warmup" if e.epoch == 1 else "pruned")
        assert rec["total_utterances"] == n_train
        assert rec["kept_utterances"] == (n_train if e.epoch == 1 else kept)
        assert len(e.kept) == rec["kept_utterances"]
        # ESPnet steps after every accum_grad-th batch; a remainder is not stepped
        assert rec["optimizer_steps"] == rec["num_batches"] // accum, f"epoch {e.epoch}"
        assert rec["optimizer_steps"] >= MIN_STEPS, f"epoch {e.epoch}: {rec['num_batches']}"
        assert rec["fed_seconds"] < rec["kept_seconds"]  # chunks were dropped
        assert rec["num_batches"] <= rec["full_data_batches"]


def check_config(exp: Path, conf: dict) -> dict:
    """ESPnet's saved config keeps the stock components and settings, plus the plugin's keys."""
    saved = yaml.safe_load((exp / "config.yaml").read_text())
    for key in ("encoder", "decoder", "batch_type", "accum_grad", "scheduler", "optim"):
        if key in conf:
            assert saved[key] == conf[key], key
    for key, value in conf.get("model_conf", {}).items():
        assert saved["model_conf"][key] == value, key
    assert saved["data_pruning"] == "easy2hard" and saved["time_drop"] == "chunk"
    return saved


def check_stock_reload(exp: Path, corpus: Path, conf: dict) -> None:
    """Stock ``Speech2Text`` loads config.yaml and the last epoch, and decodes an utterance."""
    import soundfile as sf
    from espnet2.bin.asr_inference import Speech2Text

    ctc_only = conf.get("model_conf", {}).get("ctc_weight") == 1.0
    s2t = Speech2Text(
        asr_train_config=exp / "config.yaml",
        asr_model_file=exp / f"{EPOCHS}epoch.pth",
        device="cpu",
        beam_size=2,
        ctc_weight=1.0 if ctc_only else 0.3,
        lm_weight=0.0,
        nbest=1,
    )
    model = s2t.asr_model
    assert type(model).__module__.startswith("espnet2.")
    assert (model.decoder is None) == ctc_only
    trained = torch.load(exp / f"{EPOCHS}epoch.pth", map_location="cpu")
    assert torch.equal(model.state_dict()["ctc.ctc_lo.weight"], trained["ctc.ctc_lo.weight"])
    wav_path = (corpus / "data/valid/wav.scp").read_text().split()[1]
    wav, _ = sf.read(wav_path, dtype="float32")
    text, tokens, _, _ = s2t(wav)[0]
    assert set(tokens) <= set(model.token_list)
    assert isinstance(text, str)


@pytest.mark.parametrize(
    "name",
    [
        *DEFAULT,
        *[pytest.param(n, marks=pytest.mark.slow) for n in SLOW],
        *[pytest.param(n, marks=pytest.mark.slow) for n in sorted(LARGE_CORPUS)],
    ],
)
def test_stock_config_trains_pruned_and_reloads_in_stock_espnet(
    name, tiny_corpus, request, tmp_path
):
    corpus = request.getfixturevalue("corpus_72") if name in LARGE_CORPUS else tiny_corpus
    n_train = len((corpus / "data/train/wav.scp").read_text().splitlines())
    conf = stock_config(name)
    exp = train_stock(corpus, tmp_path / "exp", name, *PRUNING, *DROP)
    check_records(exp, conf, n_train)
    check_config(exp, conf)
    check_stock_reload(exp, corpus, conf)


# Per-epoch training loss, plugin entry point with pruning off vs stock asr_train: the same
# seed, one thread (run_module sets OMP_NUM_THREADS=1), --num_workers 0. Tolerance: relative
# 1e-6 (float32 losses averaged by the reporter; the runs are expected to agree to the bit).
LOSS_RTOL = 1e-6
# -m slow (two trainings each would take the default suite past its 150 s share); budgets:
EQUAL_LOSS = [
    pytest.param("tedlium2_transformer.yaml", marks=pytest.mark.slow),  # numel, accum 4: 70 s
    pytest.param("an4_rnn.yaml", marks=pytest.mark.slow),  # folded + ReduceLROnPlateau: 90 s
    pytest.param("wsj_rnn_sorted.yaml", marks=pytest.mark.slow),  # sorted: 90 s
]


@pytest.mark.parametrize("name", EQUAL_LOSS)
def test_pruning_off_gives_stock_espnet_training_losses(name, tiny_corpus, tmp_path):
    losses = {}
    for module in ("espnet_ddp.bin.asr_train", "espnet2.bin.asr_train"):
        exp = tmp_path / module.split(".")[0]
        exp.mkdir()
        args = stock_train_args(tiny_corpus, exp, name, "--num_workers", "0")
        proc = run_module(module, args, exp / "train.log")
        assert proc.returncode == 0, log_tail(exp / "train.log")
        losses[module] = epoch_train_stats(exp)
    ours, stock = losses["espnet_ddp.bin.asr_train"], losses["espnet2.bin.asr_train"]
    assert sorted(ours) == sorted(stock) == list(range(1, EPOCHS + 1))
    assert (tmp_path / "espnet_ddp" / "data_pruning" / "epoch1.json").exists()  # plugin's iterator
    for epoch in stock:
        for key in ("loss", "loss_ctc", "loss_att", "acc"):
            if key in stock[epoch]:
                a, b = float(ours[epoch][key]), float(stock[epoch][key])
                assert math.isclose(a, b, rel_tol=LOSS_RTOL), (epoch, key, a, b)
    # and the losses moved: the runs trained, not just started
    assert stock[1]["loss"] != stock[EPOCHS]["loss"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="use_amp needs CUDA (a GPU check)")
def test_use_amp_config_trains_with_a_live_grad_scaler_on_gpu(tiny_corpus, tmp_path):
    """Budget: 60 s on one GPU. On a CPU, ESPnet's GradScaler and autocast disable themselves,
    so ``use_amp`` is only exercised here: the checkpoint holds a scaler with a scale."""
    name = "ls100_conformer_amp.yaml"
    conf = stock_config(name)
    exp = train_stock(tiny_corpus, tmp_path / "exp", name, "--ngpu", "1", *PRUNING, *DROP)
    check_records(exp, conf, 24)
    states = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    assert states["scaler"] and float(states["scaler"]["scale"]) > 0
