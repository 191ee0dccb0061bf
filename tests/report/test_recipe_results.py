"""The recipe's RESULTS.md (``espnet_ddp.tools.write_results_md`` over sclite reports) is read
back right by ``espnet_ddp.report``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from espnet_ddp.report.experiment import load_experiment
from espnet_ddp.report.table import split_error_rates

REF = ["hello world", "the cat sat on the mat", "good morning"]
HYPS = {
    "test": ["hello word", "the cat sat on the mat", "good morning"],
    "test_sr8000_asis": ["hello", "the cat sat on a hat", "good"],
}


def sclite_command() -> list[str] | None:
    if Path("/usr/lib/sctk/bin/sclite").is_file():
        return ["/usr/lib/sctk/bin/sclite"]
    if shutil.which("sclite"):
        return ["sclite"]
    return ["sctk", "sclite"] if shutil.which("sctk") else None


def trn(lines: list[str], path: Path) -> Path:
    path.write_text("".join(f"{t} (spk-u{i})\n" for i, t in enumerate(lines)))
    return path


def test_results_md_of_the_recipe_round_trips(tmp_path: Path) -> None:
    writer = pytest.importorskip("espnet_ddp.tools.write_results_md")
    sclite = sclite_command()
    if sclite is None:
        pytest.skip("sclite (Debian package sctk) is not installed")
    exp = tmp_path / "asr_x"
    expected = {}
    for test_set, hyp in HYPS.items():
        score = exp / "decode_asr_asr_model_valid.acc.ave" / test_set / "score_wer"
        score.mkdir(parents=True)
        ref_trn, hyp_trn = trn(REF, score / "ref.trn"), trn(hyp, score / "hyp.trn")
        cmd = [*sclite, "-r", str(ref_trn), "trn", "-h", str(hyp_trn), "trn", "-i", "rm"]
        report = subprocess.run([*cmd, "-o", "all", "stdout"], capture_output=True, text=True)
        (score / "result.txt").write_text(report.stdout)
        summary = re.search(r"\|\s*Sum/Avg\s*\|[^|]*\|([^|]*)\|", report.stdout)
        expected[test_set] = float(summary[1].split()[4])  # Corr Sub Del Ins Err S.Err
    (exp / "RESULTS.md").write_text(writer.results_markdown(exp))
    plain, by_rate = split_error_rates(load_experiment(exp))
    assert plain["WER"] == {"test": expected["test"]}
    assert by_rate == {"test": {"asis": {8000: expected["test_sr8000_asis"]}}}
    assert expected["test"] == pytest.approx(10.0)  # 1 error in 10 words
