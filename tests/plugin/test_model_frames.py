"""CTC floors from the built model: frames per sample measured on its frontend and encoder.

Budget: about 12 s of calls (tiny ESPnet models built with ASRTask.build_model, probed on the CPU;
measured on the 2 shared cores).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.frontend.melspec_torch import MelSpectrogramTorch
from espnet2.tasks.asr import ASRTask

from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.model_frames import encoder_frames, measured_rule
from espnet_ddp.espnet.task import PrunedASRTask

CONFORMER = """\
encoder: conformer
encoder_conf: {output_size: 16, attention_heads: 2, linear_units: 32, num_blocks: 1,
               input_layer: conv2d}
decoder: transformer
decoder_conf: {attention_heads: 2, linear_units: 32, num_blocks: 1}
"""
RNN = """\
encoder: rnn
encoder_conf: {num_layers: 4, hidden_size: 16, output_size: 16, subsample: [2, 2, 2, 1]}
decoder: rnn
decoder_conf: {num_layers: 1, hidden_size: 16}
"""
NEEDED = [1, 2, 5, 11, 17, 30]  # encoder frames CTC needs


def build(tmp_path, config: str, *extra: str):
    (tmp_path / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", "a", "<sos/eos>"]))
    (tmp_path / "conf.yaml").write_text(config)
    args = PrunedASRTask.get_parser().parse_args(
        ["--config", str(tmp_path / "conf.yaml"), "--token_list", str(tmp_path / "tokens.txt"),
         "--output_dir", str(tmp_path), "--token_type", "char", *extra]
    )
    torch.manual_seed(0)
    return ASRTask.build_model(args), args


class HopFrontend(AbsFrontend):
    """A stand-in for a frontend of another hop (s3prl's: 320 samples), 80 features a frame."""

    def __init__(self, hop: int) -> None:
        super().__init__()
        self.hop = hop

    def output_size(self) -> int:
        return 80

    def forward(self, speech, lengths):
        frames = speech.shape[1] // self.hop
        feats = speech[:, : frames * self.hop].reshape(speech.shape[0], frames, self.hop)
        return feats[..., :1].repeat(1, 1, 80), lengths // self.hop


class MelFrontend(MelSpectrogramTorch):
    """ESPnet's torchaudio mel frontend (hop 160) with integer lengths, as ASR encoders take."""

    def forward(self, speech, lengths):
        feats, _ = super().forward(speech, lengths)
        return feats, torch.full_like(lengths, feats.shape[1])


def assert_floor_gives_frames(model, rule: MinKeepRule) -> None:
    samples = [rule.samples_for_count(f) for f in NEEDED]
    got = encoder_frames(model, samples)
    assert all(g >= f for g, f in zip(got, NEEDED, strict=True)), (NEEDED, got)


def too_few_frames(model, rule: MinKeepRule) -> bool:
    got = encoder_frames(model, [rule.samples_for_count(f) for f in NEEDED])
    return any(g < f for g, f in zip(got, NEEDED, strict=True))


def test_options_rule_stays_when_the_model_agrees(tmp_path):
    """ESPnet's default STFT frontend (hop 128) and conv2d (4): the options' exact rule."""
    model, args = build(tmp_path, CONFORMER)
    options = MinKeepRule.from_args(args)
    assert measured_rule(model, options, 16000) is options
    assert_floor_gives_frames(model, options)


def test_melspec_hop_160_is_measured(tmp_path):
    """ESPnet's torchaudio mel frontend hops 160 samples, not the 128 the options assume."""
    model, args = build(tmp_path, CONFORMER)
    model.frontend = MelFrontend()  # hop 160, 80 mels: what the encoder takes
    options = MinKeepRule.from_args(args)
    assert options.frame_samples == 512 and too_few_frames(model, options)
    rule = measured_rule(model, options, 16000)
    assert 640 <= rule.frame_samples <= 640 * 1.02
    assert_floor_gives_frames(model, rule)


@pytest.mark.parametrize("hop", [320, 256])
def test_frontend_of_another_hop_is_measured(tmp_path, hop):
    model, args = build(tmp_path, CONFORMER)
    model.frontend = HopFrontend(hop)
    options = MinKeepRule.from_args(args)
    assert too_few_frames(model, options)
    rule = measured_rule(model, options, 16000)
    assert 4 * hop <= rule.frame_samples <= 4 * hop * 1.02
    assert_floor_gives_frames(model, rule)


def test_rnn_encoder_subsampling_is_measured(tmp_path):
    """An RNN encoder subsamples by its ``subsample`` product (8 here), not the fallback's 4."""
    model, args = build(tmp_path, RNN)
    options = MinKeepRule.from_args(args)
    assert options.frame_samples == 512 and too_few_frames(model, options)
    rule = measured_rule(model, options, 16000)
    assert 1024 <= rule.frame_samples <= 1024 * 1.02
    assert_floor_gives_frames(model, rule)
    assert model.training  # the probe restored the mode


def test_training_iterator_takes_the_floors_measured_on_the_model(tmp_path):
    """PrunedASRTask.build_model measures the rule; the training factory's floors use it."""
    from plugin.test_stock_paths import LENGTHS, parse, train_factory, write_mini

    d = write_mini(tmp_path)
    (d / "conf.yaml").write_text(RNN)
    args = parse(d, "--config", str(d / "conf.yaml"), "--time_drop", "chunk")
    PrunedASRTask.build_model(args)
    run = train_factory(PrunedASRTask, args).run
    assert 1024 <= run.min_keep.frame_samples <= 1024 * 1.02
    tokens = np.array([1 + i % 2 for i in range(len(LENGTHS))])  # "a" or "ab": no repeats
    assert run.floors.tolist() == run.min_keep.samples_for_counts(tokens).tolist()
