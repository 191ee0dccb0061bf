"""Stock ESPnet settings the plugin's task must honour: DeepSpeed runs, ``utt2category``.

Budget: about 20 s in all (the iterator factories are built in-process on 8 short utterances).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from espnet2.iterators.sequence_iter_factory import SequenceIterFactory
from espnet2.tasks.asr import ASRTask
from espnet2.train.distributed_utils import DistributedOption
from espnet2.train.trainer import Trainer

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.espnet.pruned_iter_factory import PrunedIterFactory
from espnet_ddp.espnet.pruning_trainer import PruningTrainer
from espnet_ddp.espnet.task import PrunedASRTask, check_plugin_args, trainer_class

TOKENS = ["<blank>", "<unk>", "a", "b", "<sos/eos>"]
LENGTHS = [3200, 4800, 6400, 8000, 3200, 4800, 6400, 8000, 9600, 11200]


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Path:
    return write_mini(tmp_path_factory.mktemp("mini"))


def write_mini(d: Path) -> Path:
    """10 utterances of noise (0.2-0.7 s), char transcripts and shape files, in ``d``."""
    (d / "tokens.txt").write_text("\n".join(TOKENS) + "\n")
    rng = np.random.default_rng(0)
    files: dict[str, list[str]] = {"wav.scp": [], "text": [], "speech_shape": [], "text_shape": []}
    for i, n in enumerate(LENGTHS):
        utt, text = f"u{i:02d}", "ab"[: 1 + i % 2]
        sf.write(d / f"{utt}.wav", (0.1 * rng.standard_normal(n)).astype(np.float32), 16000)
        files["wav.scp"].append(f"{utt} {d / utt}.wav")
        files["text"].append(f"{utt} {text}")
        files["speech_shape"].append(f"{utt} {n}")
        files["text_shape"].append(f"{utt} {len(text)},{len(TOKENS)}")
    for name, lines in files.items():
        (d / name).write_text("\n".join(lines) + "\n")
    return d


def parse(d: Path, *extra: str):
    data = [f"{d}/wav.scp,speech,sound", f"{d}/text,text,text"]
    shapes = [f"{d}/speech_shape", f"{d}/text_shape"]
    argv = ["--output_dir", str(d / "exp"), "--token_list", str(d / "tokens.txt"),
            "--token_type", "char", "--use_preprocessor", "true", "--num_workers", "0",
            "--batch_type", "folded", "--batch_size", "3",
            "--fold_length", "80000", "--fold_length", "150"]
    for split in ("train", "valid"):
        for path in data:
            argv += [f"--{split}_data_path_and_name_and_type", path]
        for path in shapes:
            argv += [f"--{split}_shape_file", path]
    return PrunedASRTask.get_parser().parse_args([*argv, *extra])


def train_factory(task, args):
    return task.build_iter_factory(args, DistributedOption(distributed=False), "train")


# -- DeepSpeed ----------------------------------------------------------------------------------
def test_deepspeed_without_plugin_options_is_a_stock_run(mini):
    """ESPnet accepts DeepSpeed only with its own Trainer class: the run is exactly stock."""
    args = parse(mini, "--use_deepspeed", "true")
    check_plugin_args(args)
    assert trainer_class(args) is Trainer
    factory = train_factory(PrunedASRTask, args)
    assert type(factory) is SequenceIterFactory
    assert factory.sampler.generate(0) == train_factory(ASRTask, args).sampler.generate(0)
    plain = parse(mini)
    assert trainer_class(plain) is PruningTrainer
    assert isinstance(train_factory(PrunedASRTask, plain), PrunedIterFactory)


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--data_pruning", "easy2hard"], "--data_pruning easy2hard"),
        (["--time_drop", "chunk"], "--time_drop chunk"),
        (["--data_pruning", "random", "--time_drop", "point"],
         "--data_pruning random and --time_drop point"),
    ],
)
def test_deepspeed_with_plugin_options_is_refused_naming_them(mini, extra, named):
    args = parse(mini, "--use_deepspeed", "true", *extra)
    with pytest.raises(ConfigError) as err:
        check_plugin_args(args)
    assert str(err.value).startswith(f"--use_deepspeed true does not apply with {named}:")


def test_deepspeed_with_lr_fit_keeps_its_own_message(mini):
    args = parse(mini, "--use_deepspeed", "true", "--lr_fit", "linear")
    with pytest.raises(ConfigError, match=r"^--lr_fit linear does not apply with --use_deepspeed"):
        check_plugin_args(args)


def test_deepspeed_refusal_stops_the_command_before_training(mini, capsys):
    args = parse(mini, "--use_deepspeed", "true", "--data_pruning", "easy2hard")
    with pytest.raises(SystemExit) as stop:
        PrunedASRTask.check_required_command_args(args)
    assert stop.value.code == 2
    assert "error: --use_deepspeed true does not apply with --data_pruning easy2hard" in (
        capsys.readouterr().err
    )


# -- utt2category -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def categorized(mini, tmp_path_factory) -> Path:
    """``mini`` with an ``utt2category`` beside ``wav.scp`` (where ESPnet looks for it)."""
    d = tmp_path_factory.mktemp("categorized")
    for name in ("wav.scp", "text", "speech_shape", "text_shape", "tokens.txt"):
        (d / name).write_text((mini / name).read_text())
    (d / "utt2category").write_text(
        "".join(f"u{i:02d} {'ab'[i % 3 == 0]}\n" for i in range(len(LENGTHS)))
    )
    return d


def categories(d: Path) -> dict[str, str]:
    return dict(line.split() for line in (d / "utt2category").read_text().splitlines())


def test_full_data_batches_with_utt2category_are_espnets(categorized):
    args = parse(categorized)
    stock = train_factory(ASRTask, args).sampler.generate(0)
    plan = train_factory(PrunedASRTask, args).run.plan_epoch(1)
    assert plan.batches == [tuple(b) for b in stock]
    # u00 u03 u06 u09 are "b", and u00 is the shortest (ties break by id): "b" comes first.
    # Each category: batches of 3 by length, descending within, the batch list reversed.
    assert plan.batches == [
        ("u09",), ("u03", "u06", "u00"), ("u08", "u07", "u02"), ("u05", "u01", "u04"),
    ]  # fmt: skip


def test_pruned_and_dropped_batches_keep_to_one_category(categorized):
    args = parse(
        categorized, "--data_pruning", "random", "--data_pruning_conf", "keep_ratio=0.6",
        "--time_drop", "chunk", "--time_drop_conf", "drop_ratio=0.3",
        "--model_conf", "ctc_weight=1.0",  # the CTC floors probe a model: ESPnet's default RNN
    )  # fmt: skip
    run = train_factory(PrunedASRTask, args).run
    cat = categories(categorized)
    for epoch in (2, 3):  # after the full-data warm-up epoch, on made-up scores
        run.table.update(run.utt_ids, [float(i % 4) for i in range(len(run.utt_ids))])
        run._table_epoch = epoch - 1
        plan = run.plan_epoch(epoch)
        assert len({u for b in plan.batches for u in b}) == 6
        assert int(plan.fed.sum()) < plan.kept_samples  # time dropping shortened them
        assert all(len({cat[u] for u in b}) == 1 for b in plan.batches)
