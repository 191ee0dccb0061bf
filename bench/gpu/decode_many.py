"""Runs stock ``espnet2.bin.asr_inference`` once per command line, in one process.

Decoding is ESPnet's own; this only pays the import of espnet2 once for many models (it costs
8-28 s per process), which matters when a benchmark decodes ten experiments.

    python bench/gpu/decode_many.py jobs.json   # a JSON list of asr_inference argument lists
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: decode_many.py JOBS.json", file=sys.stderr)
        return 2
    from espnet2.bin.asr_inference import main as asr_inference

    for cmd in json.loads(Path(argv[0]).read_text()):
        asr_inference(cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
