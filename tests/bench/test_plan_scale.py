"""``bench/plan_scale.py`` at a tiny corpus: its JSON line, and bytes that match the files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEYS = {"utts", "plan_seconds", "finish_seconds", "peak_mib", "bytes_per_epoch"}


def test_plan_scale_reports_each_size_and_the_bytes_it_wrote(tmp_path):
    proc = subprocess.run(
        [sys.executable, "bench/plan_scale.py", "--utts", "300", "450", "--keep", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [x["utts"] for x in lines] == [300, 450]
    for line in lines:
        assert KEYS <= set(line)
        assert line["plan_seconds"] > 0 and line["finish_seconds"] > 0 and line["peak_mib"] >= 0
        folder = tmp_path / f"exp_{line['utts']}" / "data_pruning"
        files = line["files"]
        assert set(files) == {"epoch3.json", "epoch3.npz", "scores_epoch3.npz", "rank0.digests"}
        for name, size in files.items():
            if name == "rank0.digests":  # appended: one line per epoch
                assert size == len((folder / name).read_text().splitlines()[-1]) + 1
            else:
                assert size == (folder / name).stat().st_size
        assert line["bytes_per_epoch"] == sum(files.values())
        speech = (tmp_path / f"shapes_{line['utts']}" / "speech_shape").read_text()
        assert len(speech.splitlines()) == line["utts"]
