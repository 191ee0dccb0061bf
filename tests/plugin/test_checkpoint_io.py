"""Checkpoints survive a kill or a full disk; a resume refuses damaged files and changed plugin
settings, naming them; a kill between an epoch's two writes is completed on resume."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from conftest import TINY_PRUNING, log_tail, run_module

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.espnet import checkpoint_io
from espnet_ddp.espnet.checkpoint_io import atomic_torch_saves, check_resumable
from espnet_ddp.espnet.resume_check import check_resume_settings
from espnet_ddp.espnet.task import PrunedASRTask
from plugin.corpus import train_command


def test_a_write_cut_short_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.pth"
    with atomic_torch_saves(tmp_path):
        torch.save({"epoch": 1}, target)
    assert torch.load(target) == {"epoch": 1}

    def dies_half_way(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 half a zip")
        raise RuntimeError("enforce fail at inline_container.cc:672")  # what a full disk gives

    monkeypatch.setattr(checkpoint_io, "_TORCH_SAVE", dies_half_way)
    with atomic_torch_saves(tmp_path), pytest.raises(RuntimeError) as err:
        torch.save({"epoch": 2}, target)
    text = str(err.value)
    assert f"could not write {target}" in text and "MiB free on its disk" in text
    assert "the previous checkpoint.pth, if there was one, is intact" in text
    monkeypatch.undo()
    assert torch.load(target) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pth"]  # no temporary left


def test_files_get_the_directorys_mode_and_stale_temporaries_are_removed(tmp_path):
    old = os.umask(0o022)
    try:
        (tmp_path / ".checkpoint.pth.x1y2.tmp").write_bytes(b"killed here")
        (tmp_path / ".3epoch.pth.abcd.tmp").write_bytes(b"and here")
        (tmp_path / "notes.tmp").write_text("not ours")
        with atomic_torch_saves(tmp_path):
            torch.save({"a": 1}, tmp_path / "4epoch.pth")
            assert torch.save is not checkpoint_io._TORCH_SAVE  # patched only inside
        assert torch.save is checkpoint_io._TORCH_SAVE
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["4epoch.pth", "notes.tmp"]
        assert stat.S_IMODE((tmp_path / "4epoch.pth").stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_a_damaged_checkpoint_or_epoch_file_is_named_before_resuming(tmp_path):
    torch.save({"a": 1}, tmp_path / "checkpoint.pth")
    torch.save({"a": 1}, tmp_path / "1epoch.pth")
    check_resumable(tmp_path / "checkpoint.pth")  # whole: nothing to say
    whole = (tmp_path / "1epoch.pth").read_bytes()
    (tmp_path / "2epoch.pth").write_bytes(whole[: len(whole) // 3])  # truncated
    with pytest.raises(RuntimeError, match=r"cannot resume: .*2epoch\.pth damaged"):
        check_resumable(tmp_path / "checkpoint.pth")
    (tmp_path / "2epoch.pth").unlink()
    data = (tmp_path / "checkpoint.pth").read_bytes()
    (tmp_path / "checkpoint.pth").write_bytes(data[:100])
    with pytest.raises(RuntimeError, match=r"checkpoint\.pth damaged .*starts again from epoch 1"):
        check_resumable(tmp_path / "checkpoint.pth")


def parse(*argv: str):
    return PrunedASRTask.get_parser().parse_args(list(argv))


def started(tmp_path: Path, *argv: str) -> Path:
    """An output dir as a first start leaves it: config.yaml of those settings, checkpoint.pth."""
    from espnet_ddp.espnet.options import record_seeds

    args = parse("--output_dir", str(tmp_path), "--max_epoch", "6", *argv)
    record_seeds(args)
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    (tmp_path / "checkpoint.pth").write_bytes(b"x")
    return tmp_path


def test_resume_refuses_changed_pruning_settings_naming_each(tmp_path):
    first = ["--data_pruning", "infobatch", "--time_drop", "chunk", "--seed", "3"]
    out = started(tmp_path, *first)
    same = parse("--output_dir", str(out), "--max_epoch", "6", "--resume", "true", *first)
    check_resume_settings(same)
    more_epochs = parse("--output_dir", str(out), "--max_epoch", "9", "--resume", "true", *first)
    check_resume_settings(more_epochs)  # ESPnet's own way to extend a run stays allowed
    changed = parse("--output_dir", str(out), "--max_epoch", "6", "--resume", "true",
                    "--data_pruning", "easy2hard", "--data_pruning_conf", "keep_ratio=0.5",
                    "--time_drop", "chunk", "--seed", "4")  # fmt: skip
    with pytest.raises(ConfigError) as err:
        check_resume_settings(changed)
    text = str(err.value)
    assert text.startswith(f"--resume true: {out} was trained with other espnet_ddp settings")
    assert "--data_pruning: 'infobatch' -> 'easy2hard'" in text
    assert "--data_pruning_conf keep_ratio: 0.7 -> 0.5" in text
    assert "--time_drop_conf seed: 3 -> 4" in text  # a new --seed changes the derived seeds
    fresh = parse("--output_dir", str(tmp_path / "new"), "--resume", "true", "--max_epoch", "6")
    check_resume_settings(fresh)  # no checkpoint: nothing to compare


def test_training_resumes_after_a_kill_between_an_epochs_two_writes(tiny_corpus, tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    base = train_command(tiny_corpus, exp, tiny_corpus / "tiny.yaml", *TINY_PRUNING,
                         "--data_pruning_conf", "warmup_epochs=0")  # one epoch is enough
    first = run_module("espnet_ddp.bin.asr_train", [*base, "--max_epoch", "1"],
                       exp / "first.log")  # fmt: skip
    assert first.returncode == 0, log_tail(exp / "first.log")
    # what a kill leaves: epoch 1's checkpoint written, its model file not, a temporary behind
    (exp / "1epoch.pth").unlink()
    (exp / ".1epoch.pth.dead.tmp").write_bytes(b"cut")
    resumed = run_module("espnet_ddp.bin.asr_train",
                         [*base, "--max_epoch", "2", "--resume", "true"], exp / "train.log")
    assert resumed.returncode == 0, log_tail(exp / "train.log")
    log = (exp / "train.log").read_text()
    assert f"{exp / '1epoch.pth'} was missing" in log
    assert not (exp / ".1epoch.pth.dead.tmp").exists()
    assert (exp / "2epoch.pth").is_file() and (exp / "valid.acc.ave.pth").exists()
    refused = run_module("espnet_ddp.bin.asr_train",
                         [*base, "--max_epoch", "2", "--resume", "true",
                          "--data_pruning_conf", "keep_ratio=0.4"], exp / "refused.log")
    assert refused.returncode == 2
    assert "--data_pruning_conf keep_ratio: 0.5 -> 0.4" in (exp / "refused.log").read_text()
