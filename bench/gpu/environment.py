"""Where a benchmark ran: date, GPU, CPU and load, versions, commit; and its one-line summary.

Responsible for describing the machine and software a report's figures come from. Not
responsible for installing anything: ``run.sh`` checks and installs torch, espnet, espeak-ng and
flite before Python starts.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from common import REPO


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "absent"


def environment(ngpu: int) -> dict[str, str]:
    """Date, GPU (``nvidia-smi``'s name, driver, memory), CPU and load, versions, commit."""
    gpu = "none (CPU)"
    if ngpu and shutil.which("nvidia-smi"):
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").open()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    commit = os.environ.get("BENCH_COMMIT", "")  # run.sh's: the GPU machine's copy has no .git
    if not commit and shutil.which("git"):
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "gpu": gpu,
        "cpu": f"{cpu} x {os.cpu_count()} (load average {os.getloadavg()[0]:.1f} at the end)",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "torchaudio": _version("torchaudio"),
        "espnet": _version("espnet"),
        "espnet_ddp commit": commit or "unknown",
        "espeak-ng": subprocess.run(
            ["espeak-ng", "--version"], capture_output=True, text=True
        ).stdout.strip() if shutil.which("espeak-ng") else "absent",  # fmt: skip
    }


def environment_line(env: dict[str, str]) -> str:
    """Date, machine and versions, one Markdown line (the synthesizer's when known).

    >>> print(environment_line({"date": "D", "gpu": "H200", "cpu": "C", "python": "3.11",
    ...     "torch": "2.11", "espnet": "202511", "espnet_ddp commit": "abc"}))
    Date: D. Machine: GPU H200; CPU C. Versions: Python 3.11, torch 2.11, espnet 202511, \
espnet_ddp abc.
    """
    synth = f" Synthesis: {env['espeak-ng']}." if env.get("espeak-ng") else ""
    return (
        f"Date: {env['date']}. Machine: GPU {env['gpu']}; CPU {env['cpu']}. Versions: Python "
        f"{env['python']}, torch {env['torch']}, espnet {env['espnet']}, espnet_ddp "
        f"{env['espnet_ddp commit']}.{synth}"
    )
