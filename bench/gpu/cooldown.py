"""The cooldown lab: the budget curve from one WSD run and its branches, against the separately
trained budget runs of the same lab, seed by seed (``run.sh --sweep --cpu_lab --cooldown``).

Responsible for the WSD variant (full data, ``--lr_fit wsd``, decay over the last 0.2 of the
epochs, states kept for every budget of :data:`gpu.sweep.BUDGETS` below 1), training its
branches after it (:mod:`espnet_ddp.tools.cooldown_branch`, two at a time), and the validation
report ``RESULTS_cooldown.md``: per budget, the branch's WER against the separate ``lr_fit:
linear`` budget run of the same seeds (:mod:`gpu.seed_results` folders of the CPU lab), with the
interval of a paired bootstrap over utterances and seeds, and what the branches cost. Not
responsible for the schedule or the branch mechanics (the plugin's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from common import env_for_children, log

from espnet_ddp.core.bootstrap import paired_bootstrap
from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.lr_fit import branch_epoch, decay_start_epoch
from espnet_ddp.core.utterance_errors import read_tsv
from espnet_ddp.tools.budget_config import budget_epochs

from .greedy_decoding import TAG as GREEDY
from .seed_results import load_seeds, seed_dir
from .variants import Variant

DECAY_SHARE = 0.2
BRANCH_BUDGETS = (0.3, 0.5, 0.7, 0.8, 0.9)
WSD = Variant(
    "wsd", "full data, WSD (decay over the last 0.2), the long run of the branches",
    lr_fit="wsd",
    lr_fit_conf=(("decay_share", DECAY_SHARE), ("branch_budgets", list(BRANCH_BUDGETS))),
)  # fmt: skip


def check_branches(max_epoch: int) -> None:
    """Raise ``ConfigError`` when a budget's branch cannot start in the constant phase."""
    for budget in BRANCH_BUDGETS:
        epochs = budget_epochs(max_epoch, budget)
        if epochs >= max_epoch:
            raise ConfigError(f"--cooldown: budget {budget} of {max_epoch} epochs is the whole run")
        branch_epoch(max_epoch, epochs, DECAY_SHARE)


def branch_name(budget: float) -> str:
    """``wsd_budget0.3``: the experiment folder of a branch."""
    return f"wsd_budget{budget:g}"


def train_branches(out: Path, budgets: Sequence[float], parallel: int = 2) -> dict[str, dict]:
    """Every branch of ``out/exp/wsd``, ``parallel`` at a time; name -> status and seconds."""
    main = out / "exp" / WSD.name
    env = env_for_children(max(1, (os.cpu_count() or 2) // max(1, parallel)))
    waiting, running, done = list(budgets), {}, {}
    while waiting or running:
        while waiting and len(running) < parallel:
            budget = waiting.pop(0)
            name = branch_name(budget)
            cmd = [sys.executable, "-m", "espnet_ddp.tools.cooldown_branch", str(main),
                   "--budgets", f"{budget:g}", "--out", str(out / "exp" / name)]  # fmt: skip
            logf = (out / f"{name}.branch.log").open("w")
            running[name] = (subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                              env=env), time.perf_counter(), logf)  # fmt: skip
            log(f"started branch {name}")
        time.sleep(1.0)
        for name, (proc, started, logf) in list(running.items()):
            if proc.poll() is None:
                continue
            logf.close()
            del running[name]
            status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
            done[name] = {"status": status, "seconds": time.perf_counter() - started}
            log(f"{name}: {status}")
    return done


def _per_seed(root: Path, name: str, test_set: str) -> dict[int, dict[str, tuple[int, int]]]:
    out = {}
    for seed in load_seeds(root):
        path = seed_dir(root, seed) / "exp" / name / GREEDY / test_set / "score_wer" / "per_utt.tsv"
        if path.is_file():
            out[seed] = {u: (e.errors, e.ref) for u, e in read_tsv(path).items()}
    return out


def cost_line(max_epoch: int, budgets: Sequence[float]) -> str:
    """Epochs the long run and its branches train, against separate budget runs.

    >>> cost_line(24, (0.3, 0.5, 0.7, 0.8, 0.9))
    'The long run trains 24 epochs and its 5 branches 14 more (38 in all); separate budget runs \
train 24 + 77 = 101: the branches cost 0.38 of it.'
    """
    epochs = [budget_epochs(max_epoch, b) for b in budgets]
    branch = sum(e - decay_start_epoch(e, DECAY_SHARE) for e in epochs)
    separate = max_epoch + sum(epochs)
    return (f"The long run trains {max_epoch} epochs and its {len(budgets)} branches {branch} "
            f"more ({max_epoch + branch} in all); separate budget runs train {max_epoch} + "
            f"{sum(epochs)} = {separate}: the branches cost "
            f"{(max_epoch + branch) / separate:.2f} of it.")  # fmt: skip


def report(cooldown_root: Path, lab_root: Path, max_epoch: int,
           sets: Sequence[str] = ("dev", "test_indomain")) -> str:  # fmt: skip
    """``RESULTS_cooldown.md``: branch against separate budget run, per budget and set."""
    lines = ["# Cooldown branches against separately trained budget runs",
             "(`bash bench/gpu/run.sh --sweep --cpu_lab --cooldown --seed N`)", ""]
    seeds = sorted(load_seeds(cooldown_root))
    lines += [f"Seeds: {', '.join(map(str, seeds)) or 'none yet'}. "
              + cost_line(max_epoch, BRANCH_BUDGETS), ""]
    head = "| budget | " + " | ".join(
        f"WER {t}: separate (linear) | WER {t}: branch (WSD) | branch vs separate [95%]"
        for t in sets) + " | seeds |"  # fmt: skip
    lines += [head, "|" + "---|" * (2 + 3 * len(sets))]
    for budget in (*BRANCH_BUDGETS, 1.0):
        name = branch_name(budget) if budget < 1 else WSD.name
        cells, used = [], set()
        for t in sets:
            separate = _per_seed(lab_root, f"budget{budget}", t)  # the sweep's folder names
            branch = _per_seed(cooldown_root, name, t)
            common = sorted(set(separate) & set(branch))
            used |= set(common)
            if not common:
                cells += ["n/a", "n/a", "n/a"]
                continue
            iv = paired_bootstrap({s: separate[s] for s in common}, {s: branch[s] for s in common})
            cells += [f"{iv.ref_wer:.2f}", f"{iv.cand_wer:.2f}",
                      f"{100 * iv.rel_point:+.1f}% [{100 * iv.rel_low:+.1f}%, "
                      f"{100 * iv.rel_high:+.1f}%]"]  # fmt: skip
        label = f"{budget:g}" + (" (the long run)" if budget == 1.0 else "")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {len(used)} |")
    lines += [
        "",
        "Each branch resumes the long WSD run's state where its own decay begins and decays "
        f"linearly to 0 over the last {DECAY_SHARE:g} of its epochs; the separate runs decay "
        "linearly from the end of the warm-up (`lr_fit: linear`). Both are decoded by CTC greedy "
        "search on the same utterances; the interval pairs them by seed. A branch whose WER "
        "lies above the separate run's by more than its interval would make a weaker, flattering "
        "curve (a cheap estimate); one below it makes a stronger baseline. The verdict is in "
        "docs/EVIDENCE.md and the README.",
        "",
    ]
    return "\n".join(lines)
