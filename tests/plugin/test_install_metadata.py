"""Installing espnet_ddp never downgrades ESPnet: the package metadata has no upper bound on it.

pip keeps an installed ESPnet that satisfies the requirement and otherwise picks the newest
release it can install; a cap or a pin would replace a user's newer ESPnet with an older one.
The metadata is built from setup.py into a temporary directory (``setup.py egg_info``), as pip
builds it. ``make test-espnet-newest`` checks the same live: espnet_ddp installed over a bare
ESPnet 202611 leaves it at 202611. Budget: 3 s.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from espnet_ddp.espnet.version_check import TESTED

REPO = Path(__file__).resolve().parents[2]
# ESPnet releases on PyPI (2026-12), and later ones that do not exist yet
ON_PYPI = ["202412", "202506", "202509", "202511", "202609", "202609.post2", "202610",
           "202610.post2", "202611"]  # fmt: skip
FUTURE = ["202612", "202701", "202711.post3", "203001"]
PYTHON_311_NEWEST = "202511"  # 202609 and later need Python >= 3.12


@pytest.fixture(scope="module")
def requirements(tmp_path_factory) -> dict[str, Requirement]:
    """``Requires-Dist`` of espnet_ddp as setup.py declares it, by project name."""
    base = tmp_path_factory.mktemp("egg")
    proc = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(base)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (info,) = base.glob("*.egg-info")
    lines = (info / "requires.txt").read_text().split("[", 1)[0].split()
    return {Requirement(line).name.lower(): Requirement(line) for line in lines}


def test_espnet_has_a_lower_bound_only(requirements):
    espnet = requirements["espnet"]
    assert {s.operator for s in espnet.specifier} == {">="}
    assert [s.version for s in espnet.specifier] == [str(TESTED[0])]


@pytest.mark.parametrize("release", ON_PYPI + FUTURE)
def test_an_installed_espnet_at_or_above_the_bound_is_kept(requirements, release):
    assert requirements["espnet"].specifier.contains(release)


def test_python_311_users_get_the_newest_release_they_can_install(requirements):
    allowed = [r for r in ON_PYPI if requirements["espnet"].specifier.contains(r)]
    assert max(r for r in allowed if r <= PYTHON_311_NEWEST) == PYTHON_311_NEWEST


def test_what_espnet_202609_moved_to_an_extra_is_required_here(requirements):
    assert "editdistance" in requirements  # ESPnet's validation imports it
