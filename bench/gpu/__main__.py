"""The one entry point of the GPU benchmark: ``python -m gpu [--quick|--sweep] [options]``.

``bash bench/gpu/run.sh`` runs it after installing what is missing; every option of ``run.sh``
comes here. ``--quick`` and ``--sweep`` pick the plan (:mod:`gpu.quick`, :mod:`gpu.sweep`;
neither: :mod:`gpu.full`); each plan adds its own options to the shared ones below. ``--dry``
prints the plan and the variants' options as JSON and runs nothing. A variant that this checkout
cannot run is an error (exit 2) before anything starts.

    bash bench/gpu/run.sh --sweep --dry
    bash bench/gpu/run.sh --quick --small --help
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from common import BENCH

from espnet_ddp.core.errors import ConfigError

from . import full, quick, sweep

MODES: dict[str | None, ModuleType] = {"--quick": quick, "--sweep": sweep, None: full}


def mode_of(argv: Sequence[str]) -> tuple[ModuleType, list[str]]:
    """The plan module that ``--quick`` / ``--sweep`` (or neither) picks, and the other options.

    >>> mode, rest = mode_of(["--small", "--sweep", "--dry"])
    >>> mode.NAME, rest
    ('sweep', ['--small', '--dry'])
    """
    flags = [a for a in argv if a in MODES]
    if len(flags) > 1:
        raise ConfigError("give one of --quick and --sweep")
    return MODES[flags[0] if flags else None], [a for a in argv if a not in MODES]


def parser_for(mode: ModuleType) -> argparse.ArgumentParser:
    """The shared options, then the plan's own."""
    flag = "" if mode is full else f" --{mode.NAME}"
    parser = argparse.ArgumentParser(
        prog=f"bash bench/gpu/run.sh{flag}", description=mode.__doc__.split("\n\n")[0]
    )
    parser.add_argument("--small", action="store_true", help="tiny CPU run of the pipeline")
    parser.add_argument("--dry", action="store_true", help="print the plan and variants only")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"default: bench/gpu/out/{mode.NAME}[_small]")  # fmt: skip
    parser.add_argument("--ngpu", type=int, default=None, help="default: 1 with CUDA, else 0")
    parser.add_argument("--nj", type=int, default=None, help="synthesis/statistics/decode jobs")
    parser.add_argument("--results_md", type=Path, default=BENCH / "gpu" / mode.RESULTS_MD)
    mode.add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        mode, rest = mode_of(argv)
    except ConfigError as err:
        print(f"run.sh: error: {err}", file=sys.stderr)
        return 2
    args = parser_for(mode).parse_args(rest)
    if args.out is None:
        args.out = BENCH / "gpu" / "out" / (mode.NAME + ("_small" if args.small else ""))
    try:
        if args.dry:
            print(json.dumps({"mode": mode.NAME, **mode.dry(args)}, indent=1))
            return 0
        return mode.run(args)
    except ConfigError as err:
        print(f"{mode.NAME}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
