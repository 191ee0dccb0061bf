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
    """10 utterances of noise (0.2-0.7 s), char transcripts and shape files, in one folder."""
    d = tmp_path_factory.mktemp("mini")
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
