"""What one GPU lease needs, checked on the CPU: the sweep's plan fits one 9-minute command by
its own estimate, what travels to the machine fits the 64 MiB a call carries, the offline install
resolves, and the deadline-cut decoding scores every model on the same utterances."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from gpu import estimate, sweep  # noqa: E402
from gpu.ordered_decoding import Item, common_hypotheses  # noqa: E402

CARRY_LIMIT = 64 * 2**20
OFFLINE = REPO / "bench" / "gpu" / "offline"
OFFLINE_MEASURED = 33 * 2**20  # 13 MiB of wheels + 18 MiB of .debs (2026-12-04), with margin


def test_the_sweep_plan_fits_one_command_by_its_estimate() -> None:
    gpu_variants = [v for v in sweep.VARIANTS if v.name not in sweep.GPU_SKIP]
    assert len(gpu_variants) == 9
    phases = estimate.estimate(
        sweep.SWEEP, [sweep.data_share(v, sweep.SWEEP.epochs) for v in gpu_variants],
        workers=16, cores=16,
    )  # fmt: skip
    assert set(phases) == set(estimate.PHASES)
    assert sum(phases.values()) <= estimate.CAP_SECONDS
    estimate.check_cap(phases)  # the same check run.sh --sweep makes before it starts
    twice = estimate.estimate(sweep.SWEEP.replace(epochs=48),
                              [2 * sweep.data_share(v, 24) for v in sweep.VARIANTS], 16, 16)
    with pytest.raises(Exception, match="over the 540 s"):
        estimate.check_cap(twice)


def tracked_bytes() -> int:
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")  # fmt: skip
    return sum((REPO / f).stat().st_size for f in files if f and (REPO / f).is_file())


def test_what_travels_fits_the_64_mib_of_a_call() -> None:
    tracked = tracked_bytes()
    if OFFLINE.is_dir():
        offline = sum(p.stat().st_size for p in OFFLINE.rglob("*") if p.is_file())
    else:  # a fresh clone: fetch_wheels.sh has not run; use what it measured
        offline = OFFLINE_MEASURED
    assert tracked + offline <= CARRY_LIMIT, (tracked, offline)


def test_the_wheel_list_is_the_venv_minus_the_gpu_image() -> None:
    listed = (REPO / "bench" / "gpu" / "gpu_image_packages.txt").read_text().split("\n")
    names = [n for n in listed if n and not n.startswith("#")]
    assert {"torch", "torchaudio", "numpy", "scipy"} <= set(names)
    assert "espnet" not in names and "soundfile" not in names  # carried, never assumed there
    script = (REPO / "bench" / "gpu" / "fetch_wheels.sh").read_text()
    assert "--python-version 3.12" in script and "--only-binary=:all:" in script


def test_a_deadline_cut_scores_every_model_on_the_same_utterances(tmp_path) -> None:
    items = [Item("dev", f"d{i}", "") for i in range(4)] + [Item("test", "t0", "")]
    work = tmp_path / "decode_work"
    work.mkdir()
    # worker 0 decoded d0 and d2 with both models, worker 1 got d1 with "a" only, then stopped
    (work / "a.0.hyp").write_text("dev d0 HELLO\ndev d2 A B\n")
    (work / "b.0.hyp").write_text("dev d0 HELO\ndev d2\n")
    (work / "a.1.hyp").write_text("dev d1 X\n")
    (work / "b.1.hyp").write_text("")
    kept = common_hypotheses(tmp_path, ["a", "b"], items, 2)
    assert kept == {"dev": ["d0", "d2"]}
    text_b = (tmp_path / "exp" / "b" / "decode" / "dev" / "text").read_text()
    assert text_b == "d0 HELO\nd2\n"
    assert json.dumps(kept)  # what run.json records


def run_sh(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "BENCH_WORK": str(tmp / "work"), "HOME": str(tmp)}
    return subprocess.run(["bash", str(REPO / "bench" / "gpu" / "run.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=3000)  # fmt: skip


@pytest.mark.slow
def test_small_sweep_dry_then_run_end_to_end(tmp_path) -> None:
    """The GPU command's whole path on the CPU: plan, train 11 tiny runs 2 at a time, decode
    (CTC greedy on every set, beam search on dev), save the seed folder, rebuild the report."""
    dry = run_sh("--sweep", "--small", "--dry", "--seed", "1", tmp=tmp_path)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["seed"] == 1 and len(plan["variants"]) == len(sweep.VARIANTS)
    out, results = tmp_path / "out", tmp_path / "results"
    done = run_sh("--sweep", "--small", "--seed", "1", "--out", str(out), "--results_dir",
                  str(results), "--results_md", str(tmp_path / "R.md"), tmp=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seed = results / "seed1"
    run = json.loads((seed / "run.json").read_text())
    assert set(run["trained"]) == {v.name for v in sweep.VARIANTS}
    assert run["decoded"]["decode_ctc_greedy"] == {"dev": 6, "test_indomain": 3, "test_espeak": 3}
    for name in run["variants"]:
        assert (seed / "exp" / name / "decode_ctc_greedy" / "dev" / "score_wer" /
                "per_utt.tsv").is_file()  # fmt: skip
        config = (seed / "exp" / name / "config.yaml").read_text()
        assert "seed: 1" in config
    md = (tmp_path / "R.md").read_text()
    assert "## Seed 1" in md and "## The frontier over all seeds" in md
