"""compare's intervals and decision on experiment folders written as a recipe leaves them:
per-utterance errors from ``per_utt.tsv`` or, without it, from ESPnet's ``ref.trn``/``hyp.trn``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from espnet_ddp.bin import compare
from espnet_ddp.core.utterance_errors import UttErrors, write_tsv

TAG = "decode_asr_asr_model_valid.acc.ave"
UTTS = [f"u{i:03d}" for i in range(200)]


def write_exp(root: Path, name: str, seed: int, config: dict, audio_h: float, acc: float,
              errors: dict[str, list[int]], trn: bool = False) -> Path:  # fmt: skip
    """One finished, decoded experiment: ``errors[set][i]`` errors in 10 words on UTTS[i]."""
    exp = root / name
    (exp / "data_pruning").mkdir(parents=True)
    epochs = int(config["max_epoch"])
    (exp / "config.yaml").write_text(yaml.safe_dump({**config, "seed": seed}))
    (exp / "train.log").write_text("".join(
        f"[h] 2026-12-04 10:00:{e:02d},000 (trainer:394) INFO: {e}epoch results: [train] "
        f"loss=1.0, time=10.0 seconds, total_count={10 * e}, [valid] acc={acc:.4f}, "
        f"time=1.0 seconds, total_count={e}\n" for e in range(1, epochs + 1)))  # fmt: skip
    for e in range(1, epochs + 1):
        (exp / "data_pruning" / f"epoch{e}.json").write_text(json.dumps(
            {"epoch": e, "fed_seconds": audio_h * 3600 / epochs, "optimizer_steps": 10}))
    rows = []
    for test_set, errs in errors.items():
        score = exp / TAG / test_set / "score_wer"
        score.mkdir(parents=True)
        wer = 100 * sum(errs) / (10 * len(errs))
        rows.append(f"|{TAG}/{test_set}|{len(errs)}|{10 * len(errs)}|{100 - wer:.1f}|{wer:.1f}|"
                    f"0.0|0.0|{wer:.1f}|50.0|")  # fmt: skip
        if trn:  # what ESPnet's own stage 13 leaves: the .trn pair, no per_utt.tsv
            (score / "ref.trn").write_text("".join(f"{'A ' * 10}(s-{u})\n" for u in UTTS))
            (score / "hyp.trn").write_text("".join(
                f"{'B ' * e}{'A ' * (10 - e)}(s-{u})\n" for u, e in zip(UTTS, errs)))
        else:
            write_tsv(score / "per_utt.tsv",
                      {u: UttErrors(e, 0, 0, 10) for u, e in zip(UTTS, errs)})  # fmt: skip
    (exp / "RESULTS.md").write_text(
        f"# RESULTS\n## {TAG}\n### WER\n\n|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")  # fmt: skip
    return exp


def pattern(mean_errors: float, seed: int) -> list[int]:
    """Deterministic per-utterance errors with the given mean (in 10 words)."""
    base = [int(mean_errors) + (1 if (i * 7 + seed) % 10 < (mean_errors % 1) * 10 else 0)
            for i in range(len(UTTS))]  # fmt: skip
    return base


def lab(tmp_path: Path, cand_mean: float, trn: bool = False) -> list[Path]:
    full = {"data_pruning": "none", "time_drop": "none", "lr_fit": "linear"}
    dirs = []
    for seed in (0, 1):
        for name, epochs, audio, acc, mean in (("b0.5", 5, 5.0, 0.80, 2.0), ("b1.0", 10, 10.0,
                                                                            0.90, 1.0)):
            config = {**full, "max_epoch": epochs}
            dirs.append(write_exp(tmp_path, f"{name}_s{seed}", seed, config, audio, acc,
                                  {"dev": pattern(mean, seed), "test": pattern(mean, seed + 5)},
                                  trn))  # fmt: skip
        cand = {"data_pruning": "infobatch", "time_drop": "none", "lr_fit": "linear",
                "max_epoch": 10}  # fmt: skip
        dirs.append(write_exp(tmp_path, f"ib_s{seed}", seed, cand, 7.0, 0.89,
                              {"dev": pattern(cand_mean, seed),
                               "test": pattern(cand_mean, seed + 5)}, trn))  # fmt: skip
    return dirs


def test_a_candidate_that_matches_the_reference_is_recommended(tmp_path, capsys):
    dirs = lab(tmp_path, cand_mean=1.0)
    assert compare.main([*map(str, dirs), "--json", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "Reference: b1.0_s0 (the full-data configuration with the lowest WER on dev)" in out
    assert "**Decision: recommend ib_s0**" in out and "confirmed on test" in out
    decision = json.loads((tmp_path / "c.json").read_text())["decision"]
    row = next(r for r in decision["rows"] if r["label"] == "ib_s0")
    dev = row["intervals"]["dev"]
    assert (dev["ref_seeds"], dev["cand_seeds"], dev["paired_seeds"]) == (2, 2, True)
    assert dev["abs_point"] == 0.0 and dev["rel_high"] < 0.03
    saving = decision["savings"][0]
    # WER 10.0 on the curve (5 h, 20.0) -> (10 h, 10.0): 10 h needed, 7 h fed
    assert saving["test_set"] == "dev" and abs(saving["ratio"] - 10 / 7) < 1e-9


def test_a_worse_candidate_is_said_worse_and_nothing_is_recommended(tmp_path, capsys):
    dirs = lab(tmp_path, cand_mean=1.5)
    assert compare.main([*map(str, dirs)]) == 0
    out = capsys.readouterr().out
    assert "**Decision: nothing qualifies; shown worse than the reference: ib_s0.**" in out


def test_without_per_utt_files_the_trn_pair_gives_the_same_intervals(tmp_path, capsys):
    a = lab(tmp_path / "tsv", cand_mean=1.2)
    b = lab(tmp_path / "trn", cand_mean=1.2, trn=True)
    compare.main([*map(str, a), "--json", str(tmp_path / "a.json")])
    compare.main([*map(str, b), "--json", str(tmp_path / "b.json")])
    capsys.readouterr()
    rows_a = json.loads((tmp_path / "a.json").read_text())["decision"]["rows"]
    rows_b = json.loads((tmp_path / "b.json").read_text())["decision"]["rows"]
    assert [r["intervals"] for r in rows_a] == [r["intervals"] for r in rows_b]
