"""The probe that tells ``asr.sh`` whether ``asr_inference`` has ``--ctc_window_margin``.

ESPnet 202610 and later approximate the CTC prefix score in a window by default
(``--ctc_window_margin 100``); ``--ctc_window_margin 0`` decodes as every earlier release did,
so ``asr.sh`` passes it where the option exists and a WER means the same on every release
(docs/COMPATIBILITY.md). The probe reads the signature of ``asr_inference.inference``: parsing
``asr_inference --help`` does not work, because 202610 and 202611 crash while formatting their
help (a bare ``%`` in the option's help text). Budget: 10 s (one ESPnet import).
"""

from __future__ import annotations

import subprocess
import sys

from espnet_ddp.espnet.compat import espnet_release

PROBE = (
    "import inspect, sys; from espnet2.bin.asr_inference import inference; "
    'sys.exit("ctc_window_margin" not in inspect.signature(inference).parameters)'
)


def test_the_probe_finds_the_option_exactly_where_espnet_has_it():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr.decode(errors="replace")[-2000:]
    assert (proc.returncode == 0) == (espnet_release() >= 202610)


def test_asr_sh_runs_this_probe_and_passes_a_zero_margin():
    from conftest import REPO

    text = (REPO / "egs2" / "TEMPLATE" / "asr1" / "asr.sh").read_text()
    assert PROBE in text
    assert '_opts+=" --ctc_window_margin 0"' in text
