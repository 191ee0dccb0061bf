"""Frames, energy-first and tempo dropping, per-utterance ratios and the linear-decay schedule."""

import numpy as np
import pytest

from espnet_ddp.core.config import TimeDropConfig
from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.time_drop import DropPlan, TimeDropper, ratios_by_score
from espnet_ddp.core.wsola import time_compress

FS = 16000


def _dropper(mode, max_epoch=10, **conf) -> TimeDropper:
    return TimeDropper(TimeDropConfig.from_options(mode, conf), max_epoch)


def _tone(n: int, freq: float = 440.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(n) / FS).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / FS)[spectrum.argmax()])


# -- frames mode ------------------------------------------------------------------------------
def test_frames_mode_counts_frames_in_blocks():
    d = _dropper("frames", drop_ratio=0.3, block_frames=4, hop_length=128)
    assert d.unit == "frames"
    assert d.num_to_remove("u", 126, epoch=1) == 37  # floor(0.3 * 126)
    plan = d.place("u", 126, 37, epoch=1)
    assert sorted(plan.lengths.tolist()) == [1] + [4] * 9
    assert np.all(plan.starts[1:] > plan.starts[:-1] + plan.lengths[:-1])  # blocks never touch


def test_frames_mode_min_keep_is_in_frames():
    d = _dropper("frames", drop_ratio=0.5, block_frames=4, hop_length=128, min_keep_ms=200)
    # 200 ms = 3200 samples = 25 frames of 128 samples
    assert d.num_to_remove("u", 40, epoch=1) == 15
    assert d.num_to_remove("u", 25, epoch=1) == 0


# -- energy-first selection -------------------------------------------------------------------
def test_energy_selection_removes_silence_first_exactly():
    wav = _tone(FS)
    wav[:1600] = 0.0  # 100 ms of silence = 5 chunks of 20 ms
    d = _dropper("chunk", drop_ratio=0.3, select="energy", min_keep_ms=0)
    plan = d.place("u", FS, 4800, epoch=1, wav=wav)
    assert plan.num_removed == 4800
    assert plan.below_threshold == 1600  # all of the silence, nothing else counts as silent
    assert not plan.keep_mask()[:1600].any()
    assert plan.starts[0] == 0 and plan.lengths[0] >= 1600


def test_energy_selection_with_more_silence_than_drop_takes_only_silence():
    wav = _tone(FS)
    wav[:3200] = 0.0
    wav[-3200:] *= 1e-3  # -60 dB: below the 35 dB threshold as well
    d = _dropper("chunk", drop_ratio=0.3, select="energy", min_keep_ms=0)
    plan = d.place("u", FS, 4800, epoch=1, wav=wav)
    assert plan.num_removed == plan.below_threshold == 4800
    mask = plan.keep_mask()
    assert not mask[:3200].any()  # digital silence is quieter: it goes first
    assert np.count_nonzero(~mask[-3200:]) == 1600 and mask[3200:-3200].all()


def test_energy_selection_is_deterministic_and_needs_audio():
    wav = _tone(FS)
    d = _dropper("chunk", drop_ratio=0.3, select="energy")
    a = d.place("u", FS, 4800, epoch=2, wav=wav)
    b = d.place("u", FS, 4800, epoch=2, wav=wav.copy())
    assert a.starts.tolist() == b.starts.tolist() and a.below_threshold == 0
    with pytest.raises(ValueError, match="waveform"):
        d.place("u", FS, 4800, epoch=2)


def test_select_energy_is_for_chunk_mode_only():
    with pytest.raises(ConfigError, match="select='energy'.*only chunk mode"):
        TimeDropConfig.from_options("point", {"select": "energy"})
    with pytest.raises(ConfigError, match="block_frames=4.*mode frames"):
        TimeDropConfig.from_options("chunk", {"block_frames": 4})
    with pytest.raises(ConfigError, match="ratio_by_score=1: must be true or false"):
        TimeDropConfig.from_options("chunk", {"ratio_by_score": 1})
    with pytest.raises(ConfigError, match="drop_schedule='cosine'"):
        TimeDropConfig.from_options("chunk", {"drop_schedule": "cosine"})


# -- tempo ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, out", [(16000, 11200), (16001, 12345), (48000, 33600), (300, 210)])
def test_tempo_length_is_exact(n, out):
    assert time_compress(_tone(n), out, FS).shape == (out,)


def test_tempo_keeps_the_pitch_of_a_steady_tone():
    out = time_compress(_tone(2 * FS, 440.0), int(0.7 * 2 * FS), FS)
    assert abs(_peak_hz(out) - 440.0) < 1.0
    rms = float(np.sqrt(np.mean(out[800:-800] ** 2)))
    assert abs(rms - np.sqrt(0.5)) < 0.02  # no dips or bumps at the overlaps


def test_tempo_two_channels_and_identity():
    wav = np.stack([_tone(FS), _tone(FS, 220.0)], axis=1)
    out = time_compress(wav, 12000, FS)
    assert out.shape == (12000, 2) and out.dtype == wav.dtype
    assert time_compress(wav, FS, FS) is wav
    with pytest.raises(ValueError, match="out_len"):
        time_compress(wav, FS + 1, FS)


def test_tempo_mode_shortens_without_a_plan():
    d = _dropper("tempo", drop_ratio=0.3, min_keep_ms=0)
    drop = d.num_to_remove("u", FS, epoch=1)
    out, plan = d.shorten("u", _tone(FS), drop, epoch=1)
    assert drop == 4800 and out.shape == (11200,) and plan is None
    with pytest.raises(ValueError, match="tempo"):
        d.place("u", FS, drop, epoch=1)


# -- planning many utterances, per-utterance ratios, schedules -------------------------------------
def test_vectorized_removals_equal_the_per_utterance_rule():
    d = _dropper("chunk", drop_ratio=0.3, prob=0.5, min_keep_ms=100)
    ids = [f"u{i}" for i in range(50)]
    n = np.arange(50) * 997 + 10
    floors = (np.arange(50) % 7) * 2000
    ratios = np.linspace(0.1, 0.6, 50)
    got = d.removals(ids, n, floors, epoch=3, ratios=ratios)
    want = [
        d.num_to_remove(u, int(k), 3, int(f), ratio=float(r))
        for u, k, f, r in zip(ids, n, floors, ratios)
    ]
    assert got.tolist() == want
    assert 0 < np.count_nonzero(got) < 50  # the gate and the floors both act


def test_ratios_by_score_keep_the_mean_and_order():
    rng = np.random.default_rng(0)
    scores = rng.random(101)
    scores[[3, 50]] = np.nan
    r = ratios_by_score(scores, 0.3, 1.0)
    scored = ~np.isnan(scores)
    assert r[~scored].tolist() == [0.3, 0.3]
    assert abs(r[scored].mean() - 0.3) < 1e-12
    order = np.argsort(scores[scored])
    assert np.all(np.diff(r[scored][order]) < 0)  # easier (lower score) loses more
    assert r.max() <= 0.6 + 1e-12 and r.min() >= 0.0
    high = ratios_by_score(scores, 0.8, 1.0)  # capped at 0.95, mean kept
    assert high.max() <= 0.95 + 1e-12 and abs(high[scored].mean() - 0.8) < 1e-12


def test_ratio_override_keeps_the_schedule_zero_epochs():
    d = _dropper("chunk", drop_ratio=0.3, warmup_epochs=2, min_keep_ms=0)
    assert d.num_to_remove("u", 1000, epoch=2, ratio=0.5) == 0
    assert d.num_to_remove("u", 1000, epoch=3, ratio=0.5) == 500


def test_linear_decay_reaches_zero_at_the_anneal():
    cfg = TimeDropConfig.from_options(
        "chunk", {"drop_ratio": 0.3, "warmup_epochs": 2, "anneal_epochs": 2,
                  "drop_schedule": "linear_decay"}
    )
    got = [round(cfg.drop_ratio_at(e, 10), 6) for e in range(1, 11)]
    assert got == [0.0, 0.0, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.0, 0.0]


def test_drop_plan_from_indices_round_trips():
    plan = DropPlan.from_indices(20, np.array([0, 1, 5, 6, 7, 19]), below_threshold=2)
    assert plan.starts.tolist() == [0, 5, 19] and plan.lengths.tolist() == [2, 3, 1]
    assert plan.removed_indices().tolist() == [0, 1, 5, 6, 7, 19] and plan.below_threshold == 2
