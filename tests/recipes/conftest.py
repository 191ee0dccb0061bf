"""Fixtures of the recipe tests: synthesized corpora (built once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recipes.corpora import build_librispeech, build_lrs3, missing_tools


@pytest.fixture(scope="session")
def librispeech_tree(tmp_path_factory):
    """A LibriSpeech-shaped corpus: 24 training utterances, 4 in each dev/test subset."""
    missing = missing_tools("espeak-ng")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install espeak-ng)")
    return build_librispeech(tmp_path_factory.mktemp("librispeech_corpus"))


@pytest.fixture(scope="session")
def lrs3_tree(tmp_path_factory):
    """An LRS3-shaped corpus: 6 trainval speakers x 4 clips, 2 test speakers x 3 clips."""
    missing = missing_tools("espeak-ng", "ffmpeg")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install espeak-ng ffmpeg)")
    return build_lrs3(tmp_path_factory.mktemp("lrs3_corpus"))


@pytest.fixture
def copy_tree(tmp_path):
    """copy_tree(src) -> a private copy of a corpus root, to break one utterance in."""

    def copy(src: Path) -> Path:
        dst = tmp_path / "corpus"
        shutil.copytree(src, dst)
        return dst

    return copy
