"""The plugin against the ESPnet release installed here, and setup.py's declared range.

The same file runs in ``make test-espnet-oldest`` (ESPnet 202412), where the fallbacks of
``espnet_ddp.espnet.compat`` are the paths taken. Budget: 3 s (no training).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import torch
from espnet2.train.distributed_utils import DistributedOption
from packaging.specifiers import SpecifierSet

from espnet_ddp.core.lr_fit import LRFitConfig
from espnet_ddp.espnet import compat
from espnet_ddp.espnet.fitted_lr import FittedLRScheduler
from espnet_ddp.espnet.task import PrunedASRTask

REPO = Path(__file__).resolve().parents[2]


def declared_espnet_range() -> SpecifierSet:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = re.fullmatch(r"espnet\s*([<>=!~].*)", node.value)
            if m:
                return SpecifierSet(m.group(1))
    raise AssertionError("setup.py names no espnet requirement")


def test_setup_py_declares_a_bound_holding_the_installed_and_tested_releases():
    spec = declared_espnet_range()
    assert version("espnet") in spec
    makefile = (REPO / "Makefile").read_text()
    oldest = re.search(r"^OLDEST_ESPNET := (\d+)$", makefile, re.M).group(1)
    newest = re.search(r"^NEWEST_ESPNET := (\d+)$", makefile, re.M).group(1)
    pinned = re.search(r"espnet==(\d+)", makefile).group(1)
    assert oldest in spec and pinned in spec and newest in spec
    assert "202402" not in spec  # not supported: untested (see docs/COMPATIBILITY.md)
    # no upper bound: newer releases are kept (tests/plugin/test_install_metadata.py)


def test_min_batch_size_reads_the_option_or_falls_back_to_one():
    assert compat.min_batch_size(argparse.Namespace(min_batch_size=3)) == 3
    assert compat.min_batch_size(argparse.Namespace()) == 1


def test_training_dataset_is_built_with_or_without_build_dataset(tiny_corpus):
    parser = PrunedASRTask.get_parser()
    args = parser.parse_args(
        [
            "--token_type", "char",
            "--token_list", str(tiny_corpus / "token_list.txt"),
            "--use_preprocessor", "true",
            "--train_data_path_and_name_and_type", f"{tiny_corpus}/data/train/wav.scp,speech,sound",
            "--train_data_path_and_name_and_type", f"{tiny_corpus}/data/train/text,text,text",
            "--train_shape_file", f"{tiny_corpus}/stats/train/speech_shape",
            "--valid_data_path_and_name_and_type", f"{tiny_corpus}/data/valid/wav.scp,speech,sound",
            "--valid_shape_file", f"{tiny_corpus}/stats/valid/speech_shape",
            "--output_dir", "unused",
        ]
    )  # fmt: skip
    options = PrunedASRTask.build_iter_options(args, DistributedOption(), "train")

    class WithoutBuildDataset:  # the task as ESPnet 202412 has it
        check_task_requirements = PrunedASRTask.check_task_requirements

    for task in (PrunedASRTask, WithoutBuildDataset):
        dataset = compat.build_training_dataset(task, args, options)
        assert dataset.names() == ("speech", "text")
        uid, item = dataset["train003"]
        assert uid == "train003" and set(item) == {"speech", "text"}
        assert item["speech"].ndim == 1 and item["text"].dtype.kind == "i"


def test_fitted_scheduler_state_loads_with_weights_only():
    """ESPnet >= 202609 resumes with ``weights_only=True``: the state must be plain data."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = FittedLRScheduler(opt, LRFitConfig("linear", 4), max_epoch=3)
    sched.begin_epoch(1, planned_steps=6)
    sched.end_epoch()
    buf = io.BytesIO()
    torch.save({"schedulers": [sched.state_dict()]}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["schedulers"][0]
    again = FittedLRScheduler(opt, LRFitConfig("linear", 4), max_epoch=3)
    again.load_state_dict(state)
    assert again.state_dict() == sched.state_dict()


def test_full_checkpoint_load_defaults_weights_only_to_false_inside_only(tmp_path):
    path, original = tmp_path / "state.pth", torch.load
    torch.save({"stats": {1: {"train": {"when": argparse.Namespace(a=1)}}}}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed|weights_only"):
        torch.load(path, weights_only=True)
    with compat.full_checkpoint_load():
        assert torch.load(path)["stats"][1]["train"]["when"].a == 1
        with pytest.raises(Exception, match="[Ww]eights only load failed|weights_only"):
            torch.load(path, weights_only=True)  # an explicit value still wins
    assert torch.load is original


def test_espnet_before_202506_and_from_202609_gets_the_full_checkpoint_load():
    assert compat.resume_needs_full_load(202412)
    assert not compat.resume_needs_full_load(202506)
    assert not compat.resume_needs_full_load(202511)
    assert compat.resume_needs_full_load(202609)  # safe_torch_load: weights_only=True
    assert compat.resume_needs_full_load(202611)
    assert not compat.resume_needs_full_load(0)  # unknown release: ESPnet's own behaviour
    assert compat.espnet_release() == compat.espnet_release(version("espnet")) >= 202412
