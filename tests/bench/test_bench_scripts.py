"""Smoke tests of the benchmark scripts' cheap paths (``--dry``, helpers); no training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import common  # noqa: E402
from common import chunk_drop, easy2hard  # noqa: E402
from gpu import __main__ as gpu_entry  # noqa: E402
from gpu import corpus as gpu_corpus  # noqa: E402
from gpu.figures import plateaued  # noqa: E402
from gpu.plan import FULL, SMALL  # noqa: E402


def run_script(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_options_use_one_conf_flag_per_key():
    assert chunk_drop(0.3, 20) == [
        "--time_drop", "chunk",
        "--time_drop_conf", "drop_ratio=0.3", "--time_drop_conf", "chunk_ms=20",
    ]  # fmt: skip
    assert easy2hard(0.7, "lr_trajectory=epoch")[-2:] == [
        "--data_pruning_conf", "lr_trajectory=epoch"
    ]


def test_speedup_dry_plans_interleaved_rounds_and_a_valid_config():
    out = run_script("bench/speedup.py", "--dry")
    first, config = out.split("\n", 1)
    plan = json.loads(first)
    assert sum(plan["rounds"]) == plan["plan"]["max_epoch"]
    assert set(plan["variants"]) == {"baseline", "pruned"}
    assert "easy2hard" in plan["variants"]["pruned"]
    conf = yaml.safe_load(config)
    assert conf["accum_grad"] == 1 and conf["max_cache_size"] == 0


def test_gpu_bench_dry_lists_every_required_variant(capsys):
    # budget: 5 s (in-process dry run: nothing trains)
    assert gpu_entry.main(["--dry", "--small"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = list(out["variants"])
    required = ["a_full", "b_e2h", "c_drop20", "d_e2h_drop20", "e_random_drop20"]
    assert names[:5] == required and {f"c_drop{ms}" for ms in (5, 10, 40, 80)} <= set(names)
    for name, variant in out["variants"].items():
        if name != "a_full":
            assert "lr_trajectory=epoch" in variant["args"]  # matched-epoch comparison
        assert variant["epochs"] == 3 and "--lr_fit" not in variant["args"]
    assert out["variants"]["a_full"]["args"] == ["--data_pruning", "none", "--time_drop", "none"]
    assert "anneal_epochs=1" in out["variants"]["d_anneal"]["args"]
    warm_anneal = out["variants"]["d_warm_anneal"]["args"]
    assert "warmup_epochs=1" in warm_anneal and "anneal_epochs=1" in warm_anneal


def test_full_gpu_plan_is_librispeech_sized():
    plan = FULL
    assert (plan.blocks, plan.dim, plan.dec_blocks) == (12, 256, 6)
    assert plan.num_train * 2.5 / 3600 >= 10  # >= 10 h at about 2.5 s per utterance
    conf = yaml.safe_load(plan.config())
    assert conf["accum_grad"] == 1 and conf["model_conf"]["ctc_weight"] == 0.3


def test_plateau_needs_a_flat_window():
    rising = {e: 0.1 * e for e in range(1, 8)}
    flat = {**rising, 8: 0.7005, 9: 0.7004, 10: 0.7001}
    assert not plateaued(rising, 3, 0.002)
    assert plateaued(flat, 3, 0.002)
    assert not plateaued({1: 0.1}, 3, 0.002)


class _FakeCorpus:
    def hours(self) -> float:
        return 1.5


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, dict]]:
    """Every build_corpus call of the bench modules, recorded instead of synthesizing."""
    calls: list[tuple[Path, dict]] = []

    def fake(root: Path, **kw):
        calls.append((root, kw))
        return _FakeCorpus()

    monkeypatch.setattr(gpu_corpus, "build_corpus", fake)
    monkeypatch.setattr(common, "build_corpus", fake)
    return calls


def test_gpu_set_up_writes_the_config_and_builds_the_plan_sized_corpus(tmp_path, built):
    plan = SMALL
    out = tmp_path / "run"
    ngpu, nj, corpus, started = gpu_corpus.set_up(plan, out, ngpu=2, nj=None)
    assert (ngpu, nj) == (2, max(1, os.cpu_count() or 2))
    assert isinstance(corpus, _FakeCorpus) and started > 0
    assert (out / "config.yaml").read_text() == plan.config()
    assert built == [
        (
            out / "corpus",
            {
                "num_train": plan.num_train, "num_dev": plan.num_dev,
                "num_test": plan.num_test, "nj": nj, "config": out / "config.yaml",
                "num_test_indomain": 0, "heldout_sets": ("test_espeak", "test_flite"),
            },
        )
    ]  # fmt: skip
    assert gpu_corpus.set_up(plan, out, ngpu=0, nj=3)[:2] == (0, 3)


def test_cpu_benchmarks_share_one_corpus_per_size(tmp_path, built):
    from speedup import FULL

    corpus, config = common.shared_cpu_corpus(FULL, tmp_path / "a")
    common.shared_cpu_corpus(FULL, tmp_path / "b", nj=5)
    assert isinstance(corpus, _FakeCorpus)
    assert config == tmp_path / "a" / "config.yaml" and config.read_text() == FULL.config()
    root = common.BENCH / "out" / f"corpus_{FULL.num_train}"
    sizes = {"num_train": FULL.num_train, "num_dev": FULL.num_dev, "num_test": 0}
    assert built == [
        (root, {**sizes, "nj": 2, "config": config}),
        (root, {**sizes, "nj": 5, "config": tmp_path / "b" / "config.yaml"}),
    ]


def test_another_frontend_collects_the_statistics_again_but_keeps_the_audio(
    tmp_path, monkeypatch
):
    from espnet_ddp.tools import synth_corpus, token_list

    calls: list[str] = []
    monkeypatch.setattr(synth_corpus, "main", lambda argv: calls.append("synth") or 0)
    monkeypatch.setattr(token_list, "main", lambda argv: calls.append("tokens") or 0)
    monkeypatch.setattr(common, "collect_stats", lambda c, config, nj: calls.append("stats"))
    config = tmp_path / "config.yaml"
    sizes = {"num_train": 4, "num_dev": 2, "num_test": 0, "nj": 1, "config": config}
    config.write_text("frontend_conf: {n_fft: 512}\n")
    (tmp_path / "c").mkdir()  # synthesis (stubbed here) would make it
    common.build_corpus(tmp_path / "c", **sizes)
    common.build_corpus(tmp_path / "c", **sizes)  # the same: nothing again
    assert calls == ["synth", "tokens", "stats"]
    config.write_text("frontend_conf: {n_fft: 512, n_mels: 40}\n")
    common.build_corpus(tmp_path / "c", **sizes)
    assert calls == ["synth", "tokens", "stats", "stats"]
    stamp = json.loads((tmp_path / "c" / "corpus.json").read_text())
    assert stamp["frontend"]["conf"] == {"n_fft": 512, "n_mels": 40}
