"""The start-up line on the running ESPnet: below, inside and above the tested range.

The release is faked (``importlib.metadata.version``), so the three messages are checked on any
ESPnet; the range must be the one the Makefile's oldest and newest targets test. Budget: 1 s.
"""

from __future__ import annotations

import doctest
import importlib.metadata
import io
import re
from pathlib import Path

import pytest

from espnet_ddp.bin import asr_train
from espnet_ddp.espnet import compat, version_check
from espnet_ddp.espnet.version_check import TESTED, known_differences, version_message

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_espnet(monkeypatch):
    """Make the installed ESPnet read as the given version string, and forget what was said."""

    def install(text: str) -> None:
        real = importlib.metadata.version
        monkeypatch.setattr(importlib.metadata, "version",
                            lambda name: text if name == "espnet" else real(name))  # fmt: skip
        monkeypatch.setattr(version_check, "_said", [])

    return install


def test_a_release_below_the_range_is_reported_as_not_supported(fake_espnet):
    fake_espnet("202402")
    line = version_message()
    assert line.startswith("espnet_ddp: ESPnet 202402 is older than the tested range 202412-")
    assert "not supported" in line and "pip install 'espnet>=202412'" in line


def test_the_reference_release_is_tested_with_nothing_known_to_differ(fake_espnet):
    fake_espnet("202511")
    line = version_message()
    assert line == (f"espnet_ddp: ESPnet 202511 is in the tested range 202412-{TESTED[1]}; "
                    "known to differ from 202511: nothing")  # fmt: skip


def test_a_tested_release_names_what_differs_from_the_reference(fake_espnet):
    fake_espnet("202611")
    line = version_message()
    assert line.startswith(f"espnet_ddp: ESPnet 202611 is in the tested range 202412-{TESTED[1]};")
    for difference in ("editdistance", "weights_only=True", "--ctc_window_margin 100", "omniio",
                       "encoder length", "folded sampler"):  # fmt: skip
        assert difference in line
    fake_espnet("202412")
    assert "no --min_batch_size" in version_message()


def test_a_release_above_the_range_is_kept_and_named_untested(fake_espnet):
    fake_espnet("202701.post1")
    line = version_message()
    assert line.startswith(f"espnet_ddp: ESPnet 202701.post1 is newer than the tested range "
                           f"202412-{TESTED[1]}: kept and used, untested;")  # fmt: skip
    assert f"as of {TESTED[1]}: " in line and "--ctc_window_margin" in line
    assert "202412" not in known_differences(202701)  # the old releases' differences stay behind


@pytest.mark.parametrize("text", ["202402", "202511", "202611", "202701", "0.10.6"])
def test_every_message_is_one_line(text):
    assert "\n" not in version_message(text)


def test_the_check_writes_its_line_once_per_process(fake_espnet):
    fake_espnet("202701")
    out = io.StringIO()
    first = version_check.check_espnet_version(out)
    assert version_check.check_espnet_version(out) == first
    assert out.getvalue() == first + "\n"


def test_the_training_entry_point_says_it_before_training(fake_espnet, monkeypatch, capsys):
    fake_espnet("202701")
    calls = []
    monkeypatch.setattr(asr_train.PrunedASRTask, "main",
                        lambda cmd=None: calls.append((cmd, capsys.readouterr().err)))  # fmt: skip
    asr_train.main(["--help"])
    assert calls == [(["--help"], version_message("202701") + "\n")]


def test_the_tested_range_is_what_the_makefile_tests():
    makefile = (REPO / "Makefile").read_text()
    oldest = re.search(r"^OLDEST_ESPNET := (\d+)$", makefile, re.M).group(1)
    newest = re.search(r"^NEWEST_ESPNET := (\d+)$", makefile, re.M).group(1)
    pinned = re.search(r"^PINS := .*espnet==(\d+)", makefile, re.M).group(1)
    assert TESTED == (int(oldest), int(newest))
    assert version_check.REFERENCE == int(pinned)


@pytest.mark.parametrize("module", [version_check, compat])
def test_the_examples_in_the_docstrings_run(module):
    failed, attempted = doctest.testmod(module)
    assert failed == 0 and attempted >= 2
