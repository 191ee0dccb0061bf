"""Cooldown branches: the budget curve from one full-data run on the WSD schedule.

A full-data run trained with ``lr_fit: wsd`` and ``lr_fit_conf: {branch_budgets: [0.3, 0.5,
...]}`` holds its peak learning rate after the warm-up and keeps its whole training state at
the epoch where each budget's own decay would begin (``cooldown_states/epoch<K>/``:
``checkpoint.pth`` with the model, optimizer, scheduler and reporter, the model files ESPnet kept,
and the plugin's records). A *branch* for budget ``B`` is the run of ``round(B x max_epoch)``
epochs that resumes from that state and only trains its decay: its learning rates up to the
branch point are exactly the long run's, so it ends where a separately trained WSD budget run of
that length would, for a fraction of the epochs. Each branch is an ordinary experiment folder
(``<main>_budget<B>``): ``config.yaml`` (the run's, with the branch's ``max_epoch``),
``train.log`` (the long run's epochs up to the branch point, then the branch's), the records and
the models, so decoding, scoring and ``compare`` treat it as a budget run.

Responsible for preparing each branch folder from the kept state and running its training
(``espnet_ddp.bin.asr_train --config <branch>/config.yaml --resume true``), and for saying what
it costs. Not responsible for the schedule (:mod:`espnet_ddp.core.lr_fit`) nor for keeping the
states (:func:`espnet_ddp.espnet.checkpoint_io.keep_branch_states`).

    python -m espnet_ddp.tools.cooldown_branch exp/asr_train_asr_wsd --budgets 0.3 0.5 0.7
    python -m espnet_ddp.tools.cooldown_branch exp/asr_train_asr_wsd --budgets 0.5 --dry_run

Run it where the long run was trained (a recipe's folder): the data paths in ``config.yaml``
are relative to it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.lr_fit import DEFAULT_DECAY_SHARE, branch_epoch, decay_start_epoch
from espnet_ddp.tools.budget_config import BudgetError, budget_epochs

STATES = "cooldown_states"
NOT_OPTIONS = ("config", "required", "version", "distributed")
_RESULTS = re.compile(r"\b(\d+)epoch results:")


@dataclass(frozen=True)
class Branch:
    """One budget's branch: its epochs, the epoch it resumes after, and its folder."""

    budget: float
    epochs: int
    start: int  # the long run's epoch whose state it resumes from
    out: Path

    @property
    def trained(self) -> int:
        """Epochs the branch trains itself."""
        return self.epochs - self.start


def read_config(main: Path) -> dict[str, Any]:
    """The long run's ``config.yaml``; raises ``ConfigError`` unless it is a WSD run."""
    path = main / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: not found (the long run's experiment folder?)")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if config.get("lr_fit") != "wsd":
        raise ConfigError(f"{path}: lr_fit is {config.get('lr_fit')!r}; cooldown branches need "
                          "a run trained with lr_fit: wsd")  # fmt: skip
    return config


def plan_branches(main: Path, budgets: list[float], out: str | None = None) -> list[Branch]:
    """Every budget's :class:`Branch`; raises ``ConfigError`` naming a budget with no kept state
    or outside (0, 1)."""
    config = read_config(main)
    max_epoch = int(config["max_epoch"])
    share = float((config.get("lr_fit_conf") or {}).get("decay_share") or DEFAULT_DECAY_SHARE)
    kept = sorted(int(p.name[5:]) for p in (main / STATES).glob("epoch*")
                  if p.name[5:].isdigit())  # fmt: skip
    branches = []
    for budget in budgets:
        try:
            epochs = budget_epochs(max_epoch, budget)
        except BudgetError as err:
            raise ConfigError(f"--budgets {budget}: {err}") from None
        if epochs >= max_epoch:
            raise ConfigError(f"--budgets {budget}: {epochs} epochs is the long run itself")
        start = branch_epoch(max_epoch, epochs, share)
        if start not in kept:
            raise ConfigError(
                f"--budgets {budget}: its branch resumes after epoch {start}, whose state "
                f"{main} did not keep (kept: {', '.join(map(str, kept)) or 'none'}); train the "
                f"long run with {budget} in lr_fit_conf branch_budgets"
            )
        folder = Path((out or f"{main}_budget{{budget}}").format(budget=f"{budget:g}"))
        branches.append(Branch(budget, epochs, start, folder))
    return branches


def cost_sentence(max_epoch: int, share: float, branches: list[Branch]) -> str:
    """Epochs trained with the branches against separately trained budget runs.

    >>> b = [Branch(0.5, 12, 10, Path("x")), Branch(0.7, 17, 14, Path("y"))]
    >>> cost_sentence(24, 0.2, b)
    'epochs trained: 24 (the long run) + 5 (branches) = 29, against 24 + 29 = 53 for separate \
budget runs (0.55 of it)'
    """
    branch = sum(b.trained for b in branches)
    separate = sum(b.epochs for b in branches)
    total, alone = max_epoch + branch, max_epoch + separate
    return (f"epochs trained: {max_epoch} (the long run) + {branch} (branches) = {total}, "
            f"against {max_epoch} + {separate} = {alone} for separate budget runs "
            f"({total / alone:.2f} of it)")  # fmt: skip


def _link_tree(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".digests":  # appended to in place: the state's must not change
            shutil.copyfile(path, dest)
            continue
        try:
            os.link(path, dest)  # the rest is only ever replaced by rename
        except OSError:
            shutil.copyfile(path, dest)


def log_prefix(main_log: Path, epoch: int) -> str:
    """The long run's ``train.log`` up to the end of its ``epoch``-th results line."""
    if not main_log.is_file():
        return ""
    lines = main_log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    end = 0
    for i, line in enumerate(lines):
        match = _RESULTS.search(line)
        if match and int(match[1]) == epoch:
            end = i + 1
            break
    return "".join(lines[:end])


def prepare(main: Path, branch: Branch) -> None:
    """Make the branch folder from the kept state: models, records, config, the log's start."""
    config = read_config(main)
    if (branch.out / "checkpoint.pth").exists():
        return  # prepared before: the training resumes from where the branch got to
    branch.out.mkdir(parents=True, exist_ok=True)
    _link_tree(main / STATES / f"epoch{branch.start}", branch.out)
    conf = dict(config.get("lr_fit_conf") or {})
    conf.pop("branch_budgets", None)  # a branch keeps no states of its own
    config.update(max_epoch=branch.epochs, output_dir=str(branch.out), lr_fit_conf=conf)
    # what ESPnet writes beside the options (the YAML the run started from, its list of required
    # options, its version, a derived flag) is not an option the parser takes back
    for key in NOT_OPTIONS:
        config.pop(key, None)
    (branch.out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False),
                                            encoding="utf-8")  # fmt: skip
    (branch.out / "train.log").write_text(log_prefix(main / "train.log", branch.start),
                                          encoding="utf-8")  # fmt: skip


def train_command(branch: Branch, extra: list[str]) -> list[str]:
    """The branch's training: the plugin's ``asr_train`` on its own config, resumed."""
    return [sys.executable, "-m", "espnet_ddp.bin.asr_train", "--config",
            str(branch.out / "config.yaml"), "--output_dir", str(branch.out), "--resume", "true",
            *extra]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("main", type=Path, help="the long WSD run's experiment folder")
    parser.add_argument("--budgets", type=float, nargs="+", required=True)
    parser.add_argument("--out", default=None,
                        help="branch folders, with {budget} (default: <main>_budget{budget})")
    parser.add_argument("--dry_run", action="store_true", help="print the plan only")
    args, extra = parser.parse_known_args(argv)
    try:
        branches = plan_branches(args.main, args.budgets, args.out)
    except ConfigError as err:
        print(f"cooldown_branch: error: {err}", file=sys.stderr)
        return 2
    config = read_config(args.main)
    share = float((config.get("lr_fit_conf") or {}).get("decay_share") or DEFAULT_DECAY_SHARE)
    max_epoch = int(config["max_epoch"])
    for b in branches:
        print(f"cooldown_branch: budget {b.budget:g}: {b.epochs} epochs, resumes after epoch "
              f"{b.start} of {args.main}, decays over epochs {b.start + 1}-{b.epochs} -> {b.out}")
    print(f"cooldown_branch: {cost_sentence(max_epoch, share, branches)}; the long run decays "
          f"after epoch {decay_start_epoch(max_epoch, share)}")  # fmt: skip
    if args.dry_run:
        return 0
    for b in branches:
        prepare(args.main, b)
        with open(b.out / "train.log", "a", encoding="utf-8") as log:
            proc = subprocess.run(train_command(b, extra), stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            print(f"cooldown_branch: budget {b.budget:g} failed (exit {proc.returncode}): see "
                  f"{b.out / 'train.log'}", file=sys.stderr)  # fmt: skip
            return proc.returncode
        print(f"cooldown_branch: budget {b.budget:g} done: {b.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
