"""``espnet-ddp-python``: ``python3`` for ESPnet's own ``asr.sh``, training through the plugin.

Stock ``egs2/<corpus>/asr1/asr.sh`` runs every Python command as ``${python} -m espnet2.bin.<x>``
(its ``--python`` option, default ``python3``), and stage 11 gives ``espnet2.bin.launch`` the
training command ``${python} -m espnet2.bin.asr_train ...``, which the job backend then runs as
given. So ``./run.sh --python espnet-ddp-python`` trains with the plugin and edits nothing.

This command re-executes its own interpreter (``sys.executable``, the environment it is installed
in) with the same arguments, except one: when the interpreter's options name the module
``espnet2.bin.asr_train``, it becomes ``espnet_ddp.bin.asr_train``. Everything else passes
through untouched: other modules (``tokenize_text``, ``aggregate_stats_dirs``, ``launch``,
``asr_inference``, ``pack``, ...), scripts, ``-c`` programs, interpreter flags, the environment.
The process is replaced, not wrapped, so the exit status, signals and standard streams are the
interpreter's own.

Not responsible for: the training itself (``espnet_ddp.bin.asr_train``), nor module names inside
the program's own arguments. ``-m espnet2.bin.launch ... -- espnet-ddp-python -m
espnet2.bin.asr_train ...`` is left as it is; the inner command is rewritten when the job
backend runs it.

>>> interpreter_args(["-m", "espnet2.bin.asr_train", "--config", "conf/train.yaml"])
['-m', 'espnet_ddp.bin.asr_train', '--config', 'conf/train.yaml']
>>> interpreter_args(["-m", "espnet2.bin.launch", "--", "p", "-m", "espnet2.bin.asr_train"])
['-m', 'espnet2.bin.launch', '--', 'p', '-m', 'espnet2.bin.asr_train']
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

STOCK_MODULE = "espnet2.bin.asr_train"
PLUGIN_MODULE = "espnet_ddp.bin.asr_train"
NAME = "espnet-ddp-python"

# CPython's options that take a value, attached (-Wignore) or as the next argument (-W ignore).
# -c and -m end the interpreter's options: what follows belongs to the program.
VALUE_FLAGS = frozenset("WX")
PROGRAM_FLAGS = frozenset("cm")
VALUE_LONG_OPTIONS = frozenset({"--check-hash-based-pycs"})


def interpreter_args(args: Sequence[str]) -> list[str]:
    """``args`` of a ``python3`` command line, with the stock ASR training module swapped.

    Reads the interpreter's options as CPython does (short flags may be grouped, as in
    ``-um``; ``-W``/``-X`` take a value; ``--`` or the first non-option ends them) and stops
    at the program: a script, ``-`` (standard input), ``-c`` or ``-m``. Only the module of
    ``-m`` is ever changed.

    >>> interpreter_args(["-u", "-W", "ignore", "-m", "espnet2.bin.asr_train", "--ngpu", "0"])
    ['-u', '-W', 'ignore', '-m', 'espnet_ddp.bin.asr_train', '--ngpu', '0']
    >>> interpreter_args(["-Bmespnet2.bin.asr_train"])
    ['-Bmespnet_ddp.bin.asr_train']
    >>> interpreter_args(["-m", "espnet2.bin.asr_inference", "-m", "espnet2.bin.asr_train"])
    ['-m', 'espnet2.bin.asr_inference', '-m', 'espnet2.bin.asr_train']
    >>> interpreter_args(["train.py", "-m", "espnet2.bin.asr_train"])
    ['train.py', '-m', 'espnet2.bin.asr_train']
    """
    out = list(args)
    i = 0
    while i < len(out):
        arg = out[i]
        if arg in ("-", "--") or not arg.startswith("-"):
            return out
        if arg.startswith("--"):
            takes_value = arg in VALUE_LONG_OPTIONS
            i += 2 if takes_value else 1
            continue
        step = 1
        for pos in range(1, len(arg)):
            flag, attached = arg[pos], arg[pos + 1 :]
            if flag in PROGRAM_FLAGS:
                if flag == "m":
                    swap_module(out, i, pos)
                return out
            if flag in VALUE_FLAGS:
                step = 1 if attached else 2
                break
        i += step
    return out


def swap_module(out: list[str], i: int, pos: int) -> None:
    """Replace the module of the ``-m`` at ``out[i][pos]`` (attached, or the next argument)."""
    arg = out[i]
    if arg[pos + 1 :]:
        if arg[pos + 1 :] == STOCK_MODULE:
            out[i] = arg[: pos + 1] + PLUGIN_MODULE
    elif i + 1 < len(out) and out[i + 1] == STOCK_MODULE:
        out[i + 1] = PLUGIN_MODULE


def main(argv: Sequence[str] | None = None) -> None:
    """Replace this process with ``sys.executable`` and the rewritten arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    python = sys.executable
    if not python:
        sys.exit(f"{NAME}: error: this interpreter does not know its own executable")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, *interpreter_args(args)])


if __name__ == "__main__":
    main()
