"""``espnet-ddp-python`` is ``python3`` except for ``-m espnet2.bin.asr_train``; stock ESPnet in the
same environment is untouched. Budget: 25 s (measured 24 s, nearly all the in-process import of
ESPnet's ASR task, which a full suite run shares with other tests)."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest

import espnet_ddp.bin.python_shim as python_shim
from espnet_ddp.bin.python_shim import interpreter_args

REPO = Path(__file__).resolve().parents[2]
SHIM = [sys.executable, "-m", "espnet_ddp.bin.python_shim"]
CONSOLE_SCRIPT = Path(sys.executable).parent / "espnet-ddp-python"
STOCK, OURS = "espnet2.bin.asr_train", "espnet_ddp.bin.asr_train"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-m", STOCK, "--ngpu", "0"], ["-m", OURS, "--ngpu", "0"]),
        ([f"-m{STOCK}"], [f"-m{OURS}"]),
        (["-u", "-B", "-m", STOCK], ["-u", "-B", "-m", OURS]),
        (["-um", STOCK, "x"], ["-um", OURS, "x"]),
        ([f"-uBm{STOCK}"], [f"-uBm{OURS}"]),
        (["-W", "ignore", "-X", "utf8", "-m", STOCK], ["-W", "ignore", "-X", "utf8", "-m", OURS]),
        (["-Wignore", "-m", STOCK], ["-Wignore", "-m", OURS]),
        (["--check-hash-based-pycs", "never", "-m", STOCK],
         ["--check-hash-based-pycs", "never", "-m", OURS]),
    ],
)  # fmt: skip
def test_the_interpreters_asr_train_module_becomes_the_plugins(args, expected):
    assert interpreter_args(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "espnet2.bin.asr_inference", "--asr_train_config", STOCK],
        ["-m", "espnet2.bin.asr_transducer_train"],
        ["-m", "espnet2.bin.launch", "--cmd", "run.pl", "--", "p", "-m", STOCK],
        ["-c", "import sys", "-m", STOCK],
        ["-uc", "pass", "-m", STOCK],
        ["train.py", "-m", STOCK],
        ["-", "-m", STOCK],
        ["--", "-m", STOCK],
        ["-W", "-m", "-m", "x"],  # -W's value is "-m"
        ["-m", f"{STOCK}x"],
        [],
    ],
)
def test_everything_else_passes_through_unchanged(args):
    assert interpreter_args(args) == args


def test_the_usage_examples_in_the_docstrings_run():
    failed, attempted = doctest.testmod(python_shim)
    assert (failed, attempted) == (0, 6)


def run_shim(*args: str, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), SHIM_PROBE="seen")
    return subprocess.run([*SHIM, *args], capture_output=True, text=True, env=env, timeout=60, **kw)


def test_the_shim_is_its_own_interpreter_with_the_same_arguments_streams_and_status():
    probe = "import os, sys; print(sys.argv[1:]); print(sys.executable, os.environ['SHIM_PROBE'])"
    done = run_shim("-c", probe, "a b", "-m", STOCK)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(["a b", "-m", STOCK]), f"{sys.executable} seen"]
    assert run_shim("-c", "raise SystemExit(7)").returncode == 7
    piped = run_shim("-", "x", input="import sys; print(sys.stdin.read() or 'empty', sys.argv)")
    assert piped.stdout.strip() == "empty ['-', 'x']"


def test_stock_asr_task_does_not_know_the_plugin_options_in_the_same_process():
    from espnet2.tasks.asr import ASRTask

    from espnet_ddp.bin.asr_train import get_parser  # imports the plugin's task first

    words = ["--data_pruning", "easy2hard", "--time_drop", "chunk"]
    plugin, rest = get_parser().parse_known_args(words)
    assert (plugin.data_pruning, plugin.time_drop, rest) == ("easy2hard", "chunk", [])
    stock, rest = ASRTask.get_parser().parse_known_args(words)
    assert rest == words and not hasattr(stock, "data_pruning")


def test_the_installed_console_script_runs_the_shim():
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"{CONSOLE_SCRIPT} is not installed yet: run `pip install -e .` (or make)")
    probe = "import sys; print(sys.executable); print(sys.argv[1:])"
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "-c", probe, "-m", STOCK],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    executable, argv = done.stdout.splitlines()
    # the environment the script is installed in (a worktree's .venv may be a link to it)
    assert Path(executable).parent.resolve() == CONSOLE_SCRIPT.parent.resolve()
    assert argv == str(["-m", STOCK])
