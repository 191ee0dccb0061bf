"""A checkpoint written by ESPnet <= 202511 resumes through the plugin on the installed release.

ESPnet up to 202511 saves the reporter's statistics as they are: numpy scalars and
``datetime.timedelta``. torch >= 2.6 refuses those under ``weights_only=True``, which ESPnet
202412 gets by default and ESPnet >= 202609 asks for explicitly (``safe_torch_load``). The
checkpoint here has that shape; the plugin's trainer resumes it on any release, and ESPnet's
own ``Trainer.resume`` refuses it exactly where :func:`compat.resume_needs_full_load` says so
(the control that makes the first test mean something). ``make test-espnet-newest`` runs this
file on 202611, ``make test-espnet-oldest``'s release is covered by the same rule. Budget: 2 s.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from espnet2.train.reporter import Reporter
from espnet2.train.trainer import Trainer

from espnet_ddp.espnet import compat
from espnet_ddp.espnet.pruning_trainer import PruningTrainer


def old_checkpoint(out: Path) -> tuple[Path, torch.nn.Module]:
    """``checkpoint.pth`` after epoch 2, laid out as ESPnet 202511's ``Trainer`` saves it."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    stats = {
        epoch: {
            "train": {"loss": np.float64(3.0 - epoch), "time": datetime.timedelta(seconds=7)},
            "valid": {"acc": np.float32(0.25 * epoch)},
        }
        for epoch in (1, 2)
    }
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.pth"
    torch.save({"model": model.state_dict(), "reporter": {"stats": stats, "epoch": 2},
                "optimizers": [optimizer.state_dict()], "schedulers": [None], "scaler": None},
               checkpoint)  # fmt: skip
    for epoch in (1, 2):
        torch.save(model.state_dict(), out / f"{epoch}epoch.pth")
    return checkpoint, model


def fresh() -> tuple[torch.nn.Module, Reporter, list[torch.optim.Optimizer]]:
    model = torch.nn.Linear(3, 2)
    return model, Reporter(), [torch.optim.Adam(model.parameters(), lr=1e-3)]


def test_the_plugins_trainer_resumes_an_old_checkpoint(tmp_path, monkeypatch):
    monkeypatch.delenv(compat.UNSAFE_LOAD_OPT_IN, raising=False)
    checkpoint, trained = old_checkpoint(tmp_path / "exp")
    model, reporter, optimizers = fresh()
    PruningTrainer.resume(checkpoint, model, reporter, optimizers, [None], None, ngpu=0)
    assert reporter.get_epoch() == 2
    assert reporter.get_value("train", "loss", epoch=1) == pytest.approx(2.0)
    assert reporter.get_value("valid", "acc", epoch=2) == pytest.approx(0.5)
    for name, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)
    assert optimizers[0].state_dict()["state"][0]["step"] == 1
    assert compat.UNSAFE_LOAD_OPT_IN not in os.environ  # ESPnet's opt-in ended with the resume


def test_espnets_own_resume_refuses_it_where_the_plugin_steps_in(tmp_path, monkeypatch):
    monkeypatch.delenv(compat.UNSAFE_LOAD_OPT_IN, raising=False)
    checkpoint, _ = old_checkpoint(tmp_path / "exp")
    model, reporter, optimizers = fresh()
    if compat.resume_needs_full_load():
        with pytest.raises(Exception, match="[Ww]eights.only|weights_only"):
            Trainer.resume(checkpoint, model, reporter, optimizers, [None], None, ngpu=0)
    else:  # 202506-202511 load with weights_only=False themselves
        Trainer.resume(checkpoint, model, reporter, optimizers, [None], None, ngpu=0)
        assert reporter.get_epoch() == 2


def test_the_opt_in_a_user_set_is_left_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setenv(compat.UNSAFE_LOAD_OPT_IN, "0")
    with compat.full_checkpoint_load():
        assert os.environ[compat.UNSAFE_LOAD_OPT_IN] == "1"
    assert os.environ[compat.UNSAFE_LOAD_OPT_IN] == "0"
