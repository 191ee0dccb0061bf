"""The installed ESPnet against the releases espnet_ddp was tested with, said in one line.

``setup.py`` asks only for ``espnet>=202412``, so pip never replaces a newer ESPnet with the
newest tested one; the tested range lives here (:data:`TESTED`), and the plugin's entry point
says at start-up where the running release stands: below the range (not supported), inside it
(tested; what differs from :data:`REFERENCE`, the release the whole suite runs on), or above it
(kept and used, untested; what is known to differ as of the newest tested release).

Responsible for: reading the release, the message, and writing it once per process to stderr
(ESPnet configures logging later, in its own ``main``; a ``logging`` call here would configure
the root logger first and change ESPnet's log format). Not responsible for working around the
differences (:mod:`espnet_ddp.espnet.compat` and the modules it names) nor for refusing to run:
an unsupported release is reported, never blocked. ``docs/COMPATIBILITY.md`` has the details.

>>> print(version_message("202511"))  # doctest: +NORMALIZE_WHITESPACE
espnet_ddp: ESPnet 202511 is in the tested range 202412-202611;
known to differ from 202511: nothing
>>> print(version_message("202402"))  # doctest: +ELLIPSIS
espnet_ddp: ESPnet 202402 is older than the tested range 202412-202611: not supported, ...
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from espnet_ddp.espnet.compat import espnet_release

TESTED = (202412, 202611)  # oldest and newest release the training/resume/sampler tests ran on
REFERENCE = 202511  # the release `make test` (the whole suite) runs on


@dataclass(frozen=True)
class Difference:
    """What a span of releases does otherwise than :data:`REFERENCE`, and what the plugin does.

    ``last`` is None while no tested release has dropped the difference again.
    """

    first: int
    last: int | None
    text: str

    def applies_to(self, release: int) -> bool:
        return self.first <= release and (self.last is None or release <= self.last)


KNOWN_DIFFERENCES: tuple[Difference, ...] = (
    Difference(0, 202505, "no AbsTask.build_dataset, and a checkpoint load without weights_only "
                          "(espnet_ddp builds the dataset itself and loads its own run's "
                          "checkpoint in full)"),
    Difference(0, 202508, "no --min_batch_size (the samplers' minimum is 1)"),
    Difference(202609, None, "editdistance is only in the [asr] extra (validation imports it; "
                             "espnet_ddp requires it)"),
    Difference(202609, None, "Trainer.resume loads checkpoint.pth with weights_only=True "
                             "(espnet_ddp loads its own run's checkpoint in full, so a 202511 "
                             "checkpoint resumes)"),
    Difference(202610, None, "asr_inference defaults to --ctc_window_margin 100, an approximate "
                             "CTC prefix score (pass 0 to decode as 202511 does)"),
    Difference(202610, None, "kaldi_ark data is read by omniio instead of kaldiio"),
    Difference(202611, None, "the subsampling layer gives each utterance its own encoder length "
                             "(CTC losses of short utterances, so pruning scores, shift slightly)"),
    Difference(202611, None, "the folded sampler's new last-batch rule (espnet_ddp follows it)"),
    Difference(202611, None, "a resumed run that had stopped early trains no further epoch"),
)


def known_differences(release: int) -> list[str]:
    """The differences from :data:`REFERENCE` known for ``release``, oldest first.

    >>> known_differences(202511), known_differences(202509)
    ([], [])
    >>> [d[:24] for d in known_differences(202412)]
    ['no AbsTask.build_dataset', 'no --min_batch_size (the']
    >>> len(known_differences(202610)), len(known_differences(202611))
    (4, 7)
    """
    return [d.text for d in KNOWN_DIFFERENCES if d.applies_to(release)]


def _range() -> str:
    return f"{TESTED[0]}-{TESTED[1]}"


def version_message(text: str | None = None) -> str:
    """One line on the ESPnet release ``text`` (default: the installed one).

    >>> print(version_message("202701").split(";")[0])  # doctest: +NORMALIZE_WHITESPACE
    espnet_ddp: ESPnet 202701 is newer than the tested range 202412-202611:
    kept and used, untested
    >>> print(version_message("0.10.6"))  # doctest: +ELLIPSIS
    espnet_ddp: cannot read ESPnet's release from '0.10.6' ...
    """
    if text is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("espnet")
        except PackageNotFoundError:
            text = "(not installed)"
    release = espnet_release(text)
    if release == 0:
        return (f"espnet_ddp: cannot read ESPnet's release from {text!r} (tested: {_range()}); "
                "see docs/COMPATIBILITY.md")  # fmt: skip
    if release < TESTED[0]:
        return (f"espnet_ddp: ESPnet {text} is older than the tested range {_range()}: not "
                f"supported, upgrade it (pip install 'espnet>={TESTED[0]}')")  # fmt: skip
    differences = "; ".join(known_differences(release)) or "nothing"
    if release <= TESTED[1]:
        return (f"espnet_ddp: ESPnet {text} is in the tested range {_range()}; known to differ "
                f"from {REFERENCE}: {differences}")  # fmt: skip
    return (f"espnet_ddp: ESPnet {text} is newer than the tested range {_range()}: kept and used, "
            f"untested; known to differ from {REFERENCE} as of {TESTED[1]}: {differences}; "
            "see docs/COMPATIBILITY.md")  # fmt: skip


_said: list[str] = []  # the message, once written (one per process)


def check_espnet_version(stream: TextIO | None = None, text: str | None = None) -> str:
    """Write :func:`version_message` to ``stream`` (stderr), the first time only; return it."""
    if not _said:
        _said.append(version_message(text))
        print(_said[0], file=sys.stderr if stream is None else stream, flush=True)
    return _said[0]
