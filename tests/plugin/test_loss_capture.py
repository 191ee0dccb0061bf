"""Loss capture on a real ESPnet model: per-utterance losses, weights, non-finite values."""

from __future__ import annotations

import math

import pytest
import torch
from espnet2.tasks.asr import ASRTask

from espnet_ddp.espnet.loss_capture import PerUtteranceLossCapture
from espnet_ddp.espnet.task import PrunedASRTask

TRANSFORMER = """\
frontend_conf: {n_fft: 256, hop_length: 64}
normalize: utterance_mvn
encoder: transformer
encoder_conf: {output_size: 16, attention_heads: 2, linear_units: 32, num_blocks: 1,
               dropout_rate: 0.0, positional_dropout_rate: 0.0, attention_dropout_rate: 0.0}
decoder: transformer
decoder_conf: {attention_heads: 2, linear_units: 32, num_blocks: 1, dropout_rate: 0.0,
               positional_dropout_rate: 0.0, self_attention_dropout_rate: 0.0,
               src_attention_dropout_rate: 0.0}
model_conf: {ctc_weight: 0.3, lsm_weight: 0.1, length_normalized_loss: false}
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    (d / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", "A", "B", "C", "<sos/eos>"]))
    (d / "conf.yaml").write_text(TRANSFORMER)
    args = PrunedASRTask.get_parser().parse_args(
        ["--config", str(d / "conf.yaml"), "--token_list", str(d / "tokens.txt"),
         "--output_dir", str(d), "--token_type", "char"]
    )
    torch.manual_seed(0)
    m = ASRTask.build_model(args)
    m.train()
    return m


def waveform(i: int, n: int) -> torch.Tensor:
    return torch.randn(n, generator=torch.Generator().manual_seed(100 + i))


def batch(lengths, tokens, first=0):
    speech = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        speech[i, :n] = waveform(first + i, n)
    text = torch.full((len(tokens), max(len(t) for t in tokens)), -1, dtype=torch.long)
    for i, t in enumerate(tokens):
        text[i, : len(t)] = torch.tensor(t)
    return {
        "speech": speech,
        "speech_lengths": torch.tensor(lengths),
        "text": text,
        "text_lengths": torch.tensor([len(t) for t in tokens]),
    }


# Equal lengths: the STFT's edge frames would see padding otherwise; text padding is masked.
LENGTHS = [3000, 3000, 3000]
TOKENS = [[2, 3, 4, 2], [3, 3, 2], [4, 2]]


def single(model, i):
    b = batch([LENGTHS[i]], [TOKENS[i]], first=i)
    with torch.no_grad():
        _, stats, _ = model(**b)
    return stats["loss_ctc"].item(), stats["loss_att"].item()


def test_per_utterance_losses_equal_single_utterance_forwards(model):
    capture = PerUtteranceLossCapture(model)
    capture.attach()
    with torch.no_grad():
        model(**batch(LENGTHS, TOKENS), utt_id=["u0", "u1", "u2"])
    capture.detach()
    got = capture.collect()
    assert got.utt_ids == ["u0", "u1", "u2"]
    assert got.tokens == [4, 3, 2]
    assert got.fed_samples == sum(LENGTHS)
    for i in range(3):
        ctc, att = single(model, i)
        assert got.ctc[i] == pytest.approx(ctc, rel=1e-4)
        assert got.att[i] == pytest.approx(att, rel=1e-4)


def test_weights_rescale_the_training_loss(model):
    b = batch(LENGTHS, TOKENS)
    ids = ["u0", "u1", "u2"]
    capture = PerUtteranceLossCapture(model)
    capture.attach(weights={"u1": 2.0})
    with torch.no_grad():
        loss, stats, _ = model(**b, utt_id=ids)
    capture.detach()
    got = capture.collect()
    w = [1.0, 2.0, 1.0]
    ctc = sum(wi * c for wi, c in zip(w, got.ctc)) / 3
    att = sum(wi * a for wi, a in zip(w, got.att)) / 3
    assert loss.item() == pytest.approx(0.3 * ctc + 0.7 * att, rel=1e-5)


def test_validation_records_nothing_and_hooks_are_removed(model):
    capture = PerUtteranceLossCapture(model)
    capture.attach()
    model.eval()
    try:
        with torch.no_grad():
            model(**batch(LENGTHS, TOKENS), utt_id=["u0", "u1", "u2"])
    finally:
        model.train()
    capture.detach()
    assert capture.collect().utt_ids == []
    capture2 = PerUtteranceLossCapture(model)
    with torch.no_grad():
        model(**batch(LENGTHS, TOKENS), utt_id=["u0", "u1", "u2"])  # no hooks attached
    assert capture2.collect().utt_ids == []


def test_impossible_ctc_alignment_is_non_finite_not_easy(model):
    capture = PerUtteranceLossCapture(model)
    capture.attach()
    with torch.no_grad():
        model(**batch([4000, 600], [[2, 3], [2, 3, 4, 2, 3, 4, 2, 3]]), utt_id=["ok", "short"])
    capture.detach()
    got = capture.collect()
    assert math.isfinite(got.ctc[0])
    assert math.isnan(got.ctc[1])  # CTC's zero_infinity would have reported 0.0


def test_impossible_alignment_because_of_repeats_is_non_finite(model):
    """CTC needs a blank between equal labels: E frames cannot carry E labels with repeats."""
    with torch.no_grad():
        _, enc_lens = model.encode(torch.zeros(1, 1200), torch.tensor([1200]))
    frames = int(enc_lens[0])
    assert frames >= 3
    repeated = [2] * frames  # needs 2 * frames - 1 frames
    alternating = [2, 3] * (frames // 2) + [2] * (frames % 2)  # needs exactly `frames`
    capture = PerUtteranceLossCapture(model)
    capture.attach()
    with torch.no_grad():
        model(**batch([1200, 1200], [alternating, repeated]), utt_id=["alt", "rep"])
    capture.detach()
    got = capture.collect()
    assert math.isfinite(got.ctc[0])
    assert math.isnan(got.ctc[1])  # counting labels alone would have scored it 0.0 (easiest)


# -- brctc and intermediate CTC (budget: about 2 s for the four tests below) -------------------
def build(tmp_path, config: str = TRANSFORMER, ctc_type: str = "builtin"):
    tokens = ["<blank>", "<unk>", "A", "B", "C", "<sos/eos>"]
    (tmp_path / "tokens.txt").write_text("\n".join(tokens))
    (tmp_path / "conf.yaml").write_text(config)
    args = PrunedASRTask.get_parser().parse_args(
        ["--config", str(tmp_path / "conf.yaml"), "--token_list", str(tmp_path / "tokens.txt"),
         "--output_dir", str(tmp_path), "--token_type", "char",
         "--ctc_conf", f"ctc_type={ctc_type}"]
    )
    torch.manual_seed(0)
    m = ASRTask.build_model(args)
    m.train()
    return m


@pytest.fixture
def brctc_model(tmp_path, monkeypatch):
    """ESPnet's real ``BayesRiskCTC`` (its filtering of unalignable utterances runs as is) over
    a stand-in for k2, which is not installed: its core is torch's CTC per utterance."""
    import sys
    import types

    for name in ("k2", "_k2"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.delitem(sys.modules, "espnet2.asr.bayes_risk_ctc", raising=False)
    m = build(tmp_path, ctc_type="brctc")
    brctc = m.ctc.ctc_loss
    assert type(brctc).__name__ == "BayesRiskCTC"

    def core(nnet_output, ys, hlens, ylens):
        targets = torch.tensor([t for y in ys for t in y], dtype=torch.long)
        return torch.nn.functional.ctc_loss(
            nnet_output.transpose(0, 1), targets, hlens, ylens, reduction="none"
        )

    monkeypatch.setattr(brctc, "forward_core", core)
    return m


TOO_MANY = [2, 3, 4] * 6  # 18 labels: more than the encoder frames of 3000 samples


def test_brctc_scores_the_alignable_utterances_and_leaves_the_rest_unscored(brctc_model):
    m = brctc_model
    tokens = [TOKENS[0], TOO_MANY, TOKENS[2]]
    capture = PerUtteranceLossCapture(m)
    capture.attach(weights={"u0": 2.0, "u2": 0.5})
    with torch.no_grad():
        _, stats, _ = m(**batch(LENGTHS, tokens), utt_id=["u0", "u1", "u2"])
    capture.detach()
    got = capture.collect()
    assert got.utt_ids == ["u0", "u1", "u2"] and got.skipped_batches == 0
    assert math.isnan(got.ctc[1])
    for i in (0, 2):
        b = batch([LENGTHS[i]], [tokens[i]], first=i)
        with torch.no_grad():
            alone = m(**b)[1]["loss_ctc"].item()
        assert got.ctc[i] == pytest.approx(alone, rel=1e-4)
    # the weights reach brctc's loss, averaged over its 2 valid utterances
    assert stats["loss_ctc"].item() == pytest.approx((2.0 * got.ctc[0] + 0.5 * got.ctc[2]) / 2)


@pytest.mark.parametrize("n", [1, 2])
def test_brctc_batch_with_no_alignable_utterance_gives_no_score(brctc_model, n):
    """brctc returns ``[0.]`` then; for one utterance that is no score of 0 (easiest)."""
    capture = PerUtteranceLossCapture(brctc_model)
    capture.attach()
    with torch.no_grad():
        brctc_model(**batch(LENGTHS[:n], [TOO_MANY] * n), utt_id=[f"u{i}" for i in range(n)])
    capture.detach()
    got = capture.collect()
    assert len(got.ctc) == n and all(math.isnan(c) for c in got.ctc)


# Two encoder blocks, intermediate CTC after the first.
INTERCTC = TRANSFORMER.replace("num_blocks: 1,\n", "num_blocks: 2, interctc_layer_idx: [1],\n", 1)
INTERCTC = INTERCTC.replace("length_normalized_loss: false", "length_normalized_loss: false, "
                            "interctc_weight: 0.4")


def test_loss_weights_reach_every_intermediate_ctc_call(tmp_path):
    m = build(tmp_path, INTERCTC)
    assert len(m.encoder.encoders) == 2 and m.interctc_weight == 0.4
    calls: list[torch.Tensor] = []
    spy = m.ctc.ctc_loss.register_forward_hook(lambda mod, i, out: calls.append(out.detach()))
    b, ids = batch(LENGTHS, TOKENS), ["u0", "u1", "u2"]
    with torch.no_grad():
        m(**b, utt_id=ids)
    spy.remove()
    assert len(calls) == 2  # the final encoder output, then layer 1
    w = torch.tensor([2.0, 1.0, 0.25])
    capture = PerUtteranceLossCapture(m)
    capture.attach(weights=dict(zip(ids, w.tolist(), strict=True)))
    with torch.no_grad():
        _, stats, _ = m(**b, utt_id=ids)
    capture.detach()
    assert capture.collect().ctc == pytest.approx(calls[0].tolist(), rel=1e-5)
    assert stats["loss_ctc"].item() == pytest.approx((w * calls[0]).sum().item() / 3, rel=1e-5)
    assert stats["loss_interctc_layer1"].item() == pytest.approx(
        (w * calls[1]).sum().item() / 3, rel=1e-5
    )

