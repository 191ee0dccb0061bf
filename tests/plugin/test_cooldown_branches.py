"""Cooldown branches in real ESPnet trainings: a WSD run keeps its state at a branch epoch; the
branch resumes exactly there (model, optimizer, the plugin's selection, the first step's loss)
and decays to zero by its last step (``train.log`` with ``log_interval 1``)."""

from __future__ import annotations

import json
import re

import pytest
import torch
from conftest import log_tail, run_module

from espnet_ddp.tools import cooldown_branch
from plugin.corpus import train_command

PEAK = 0.0009
LINE = re.compile(r"(\d+)epoch:train:(\d+)-\d+batch: .*?loss=([0-9.e+-]+).*optim0_lr0=([0-9.e+-]+)")
WSD = ["--max_epoch", "4", "--log_interval", "1", "--batch_bins", "60000",
       "--optim_conf", f"lr={PEAK}", "--scheduler_conf", "warmup_steps=2", "--lr_fit", "wsd",
       "--lr_fit_conf", "decay_share=0.2", "--lr_fit_conf", "branch_budgets=[0.5]",
       "--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=0.5"]  # fmt: skip


def steps(log_text: str) -> list[tuple[int, int, float, float]]:
    return [(int(m[1]), int(m[2]), float(m[3]), float(m[4])) for m in LINE.finditer(log_text)]


@pytest.fixture(scope="module")
def long_run(tiny_corpus, tmp_path_factory):
    exp = tmp_path_factory.mktemp("wsd") / "asr_wsd"
    exp.mkdir()
    proc = run_module("espnet_ddp.bin.asr_train",
                      train_command(tiny_corpus, exp, tiny_corpus / "tiny.yaml", *WSD),
                      exp / "train.log")  # fmt: skip
    assert proc.returncode == 0, log_tail(exp / "train.log")
    return exp


def test_the_long_run_keeps_the_state_of_the_branch_epoch_and_holds_its_peak(long_run):
    # a 2-epoch branch (0.5 of 4) decays over its last epoch: it resumes after epoch 1
    state = long_run / "cooldown_states" / "epoch1"
    assert sorted(p.name for p in state.iterdir()) == ["1epoch.pth", "checkpoint.pth",
                                                       "data_pruning"]  # fmt: skip
    assert (state / "data_pruning" / "epoch1.json").is_file()
    assert not (state / "data_pruning" / "epoch2.json").exists()
    lrs = [(e, lr) for e, _, _, lr in steps((long_run / "train.log").read_text())]
    # epochs 2-3 at the peak; the long run decays over epoch 4 (0.2 x 4 -> 1 epoch) to 0
    assert all(lr == pytest.approx(PEAK, rel=1e-3) for e, lr in lrs if e in (2, 3))
    assert lrs[-1][1] <= 0.02 * PEAK


def test_a_branch_starts_where_the_long_run_stood_and_decays_to_zero(long_run, tmp_path):
    out = tmp_path / "branch_{budget}"
    rc = cooldown_branch.main([str(long_run), "--budgets", "0.5", "--out", str(out)])
    assert rc == 0
    branch = tmp_path / "branch_0.5"
    config = json.loads(json.dumps(__import__("yaml").safe_load(
        (branch / "config.yaml").read_text())))  # fmt: skip
    assert config["max_epoch"] == 2 and "branch_budgets" not in config["lr_fit_conf"]
    log = (branch / "train.log").read_text()
    assert "1epoch results:" in log and "2epoch results:" in log  # the long run's, then its own
    main_steps = [s for s in steps((long_run / "train.log").read_text()) if s[0] == 2]
    branch_steps = [s for s in steps(log) if s[0] == 2]
    # the same first step: the same model, data and plan give the same loss before any update
    assert branch_steps[0][2] == main_steps[0][2]
    assert len(branch_steps) == len(main_steps)  # the same epoch-2 selection, the same batches
    a = json.loads((long_run / "data_pruning" / "epoch2.json").read_text())
    b = json.loads((branch / "data_pruning" / "epoch2.json").read_text())
    assert a["selection_digest"] == b["selection_digest"]
    assert branch_steps[-1][3] <= 0.02 * PEAK < branch_steps[0][3]
    # what it cost: 1 epoch trained, not 2; the state folder is untouched by the branch
    state = long_run / "cooldown_states" / "epoch1"
    assert torch.load(state / "checkpoint.pth", weights_only=False)["reporter"] is not None
    assert (branch / "valid.acc.ave.pth").exists()


def test_the_branch_command_refuses_budgets_it_cannot_branch(long_run, capsys):
    assert cooldown_branch.main([str(long_run), "--budgets", "0.75", "--dry_run"]) == 2
    err = capsys.readouterr().err
    assert "--budgets 0.75: its branch resumes after epoch 2, whose state" in err
    assert cooldown_branch.main([str(long_run), "--budgets", "1.5"]) == 2
    assert "--budgets 1.5: budget 1.5: must be in (0, 1]" in capsys.readouterr().err
    assert cooldown_branch.main([str(long_run), "--budgets", "0.5", "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "budget 0.5: 2 epochs, resumes after epoch 1" in out
    assert "epochs trained: 4 (the long run) + 1 (branches) = 5, against 4 + 2 = 6" in out
