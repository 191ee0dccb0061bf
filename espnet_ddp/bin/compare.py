"""Compares ESPnet experiment directories: one Markdown table, its JSON twin, and plots.

Usage::

    python -m espnet_ddp.bin.compare exp/asr_full exp/asr_easy2hard \\
        [--baseline 0|exp/asr_full] [--reference NAME] [--target_fraction 0.98] \\
        [--decode_tag TAG] [--json cmp.json] [--plots cmp_plots] \\
        [--dev_sets dev] [--test_sets test_clean] [--margin 0.03]

Every directory gives one row (strategy and settings, WER/CER per test set, wall time,
optimizer steps, audio hours fed, speed-up against the baseline, and the wall time and
optimizer steps until valid accuracy first reached ``--target_fraction`` of the reference
run's final valid accuracy; the reference is the full-data run unless given). Missing or partial
experiments get a note in the table instead of an error. Test sets named
``<test_set>_sr<R>_<mode>`` (from ``resample_data``) are shown as WER-by-sampling-rate tables.

Then every configuration (runs differing only in ``--seed`` are one) gets its WER difference to
the reference with a 95% interval from a paired bootstrap over test utterances and seeds
(``per_utt.tsv`` of each scored set), and the decision rule is applied: the reference is the
full-data configuration best on ``--dev_sets``; a configuration qualifies when the upper end of
its relative interval is below ``--margin`` on every dev set; the cheapest qualifying one by
audio fed is recommended and confirmed once on ``--test_sets``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from espnet_ddp.core.decision import DEFAULT_MARGIN
from espnet_ddp.report.decision_markdown import build_decision, render_decision
from espnet_ddp.report.experiment import Experiment, load_experiment
from espnet_ddp.report.markdown import main_table, render
from espnet_ddp.report.table import DEFAULT_TARGET_FRACTION, build_comparison


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m espnet_ddp.bin.compare",
        description="Compare ESPnet experiment directories (Markdown table, JSON, plots).",
    )
    parser.add_argument("exp_dirs", nargs="+", type=Path, metavar="EXP_DIR")
    parser.add_argument(
        "--baseline",
        default="0",
        help="0-based index into EXP_DIR..., or one of the EXP_DIRs (default: the first)",
    )
    parser.add_argument(
        "--reference",
        default=None,
        help="run whose FINAL valid accuracy sets the target (index or EXP_DIR, as --baseline); "
        "default: the baseline when it has neither pruning nor dropping, else the first run "
        "that has neither",
    )
    parser.add_argument(
        "--target_fraction",
        type=float,
        default=DEFAULT_TARGET_FRACTION,
        help="target valid accuracy = this x the reference's final valid accuracy, in (0, 1] "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--decode_tag",
        default=None,
        help="decode tag to read from RESULTS.md (exact, or a substring); default: the last",
    )
    parser.add_argument("--dev_sets", nargs="*", default=None,
                        help="sets the reference and the candidates are chosen on (default: "
                        "WER sets named dev*/valid*)")  # fmt: skip
    parser.add_argument("--test_sets", nargs="*", default=None,
                        help="sets that confirm the recommendation once (default: the other "
                        "WER sets)")  # fmt: skip
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="non-inferiority margin on the relative WER (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT.json")
    parser.add_argument("--plots", type=Path, default=None, metavar="OUT_DIR")
    return parser


def baseline_index(value: str, exp_dirs: Sequence[Path], option: str = "--baseline") -> int:
    """Resolves ``--baseline`` (or ``option``): an index, or a path/name equal to an EXP_DIR."""
    if value.lstrip("-").isdigit():
        index = int(value)
        if not 0 <= index < len(exp_dirs):
            raise ValueError(f"{option} {index}: only {len(exp_dirs)} experiment(s) given")
        return index
    wanted = Path(value)
    for i, path in enumerate(exp_dirs):
        if path == wanted or path.resolve() == wanted.resolve():
            return i
    names = [i for i, path in enumerate(exp_dirs) if path.name == value]
    if len(names) == 1:
        return names[0]
    raise ValueError(f"{option} {value!r} is neither an index nor one of the EXP_DIRs")


def unique_names(exp_dirs: Sequence[Path]) -> list[str]:
    """Directory names, made unique with their parents where two would clash."""
    names = [p.name or str(p) for p in exp_dirs]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in exp_dirs]


def load_all(exp_dirs: Sequence[Path], decode_tag: str | None) -> list[Experiment]:
    """Loads every directory; an unexpected failure becomes a note, never a traceback."""
    experiments = []
    for path, name in zip(exp_dirs, unique_names(exp_dirs), strict=True):
        try:
            experiments.append(load_experiment(path, decode_tag=decode_tag, name=name))
        except Exception as err:  # a broken dir must not hide the others
            broken = Experiment(path=path, name=name)
            broken.notes.append(f"unreadable: {err.__class__.__name__}: {err}")
            experiments.append(broken)
    return experiments


def decision_json(report) -> dict:
    """The intervals and the decision, JSON-ready."""
    from dataclasses import asdict

    return {
        "reference": report.reference, "dev_sets": report.dev_sets,
        "test_sets": report.test_sets, "margin": report.margin,
        "rows": [asdict(r) for r in report.rows],
        "decision": None if report.decision is None else asdict(report.decision),
        "savings": [asdict(s) for s in report.savings],
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = get_parser().parse_args(argv)
    try:
        baseline = baseline_index(args.baseline, args.exp_dirs)
        reference = None
        if args.reference is not None:
            reference = baseline_index(args.reference, args.exp_dirs, "--reference")
        if not 0 < args.target_fraction <= 1:
            raise ValueError(f"--target_fraction {args.target_fraction}: must be in (0, 1]")
        if not 0 < args.margin < 1:
            raise ValueError(f"--margin {args.margin}: must be in (0, 1), e.g. 0.03 for +3%")
    except ValueError as err:
        print(f"compare: error: {err}", file=sys.stderr)
        return 2
    experiments = load_all(args.exp_dirs, args.decode_tag)
    comparison = build_comparison(
        experiments, baseline=baseline, reference=reference, target_fraction=args.target_fraction
    )
    sys.stdout.write(render(comparison))
    decision = build_decision(experiments, comparison, args.dev_sets, args.test_sets, args.margin)
    sys.stdout.write("\n" + render_decision(decision))
    if args.json is not None:
        headers, cells = main_table(comparison)
        payload = {**comparison.to_dict(), "table": {"columns": headers, "rows": cells},
                   "decision": decision_json(decision)}  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.plots is not None:
        from espnet_ddp.report.plots import write_plots

        for path in write_plots(experiments, comparison, args.plots):
            print(f"compare: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
