"""Speed perturbation of a Kaldi-style data directory (stage 2), as sox ``speed`` pipes in wav.scp.

For each factor ``f`` other than 1.0 the utterance and speaker ids get an ``sp<f>-`` prefix and the
audio entry becomes a command that sox runs when stage 3 formats the audio (so nothing is written
here). The output holds every factor's copy, 1.0 unprefixed, as ESPnet's recipes do. An
``utt2category`` (ESPnet's per-batch category) follows the utterances: a copy keeps its category.
With a ``segments`` file, the recordings of wav.scp are perturbed (ids prefixed too) and the
segment times divided by the factor, as Kaldi's perturb_data_dir_speed.sh does.

    python -m espnet_ddp.tools.perturb_speed --factors "0.9 1.0 1.1" data/train data/train_sp
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from espnet_ddp.tools.audio_io import is_pipe
from espnet_ddp.tools.datadir import DataDir, read_kv, write_kv


def speed_entry(entry: str, factor: float) -> str:
    """The ``wav.scp`` value that plays ``entry`` at ``factor`` times its speed, as wav."""
    if is_pipe(entry):
        return f"{entry.rstrip()[:-1].rstrip()} | sox -t wav - -t wav - speed {factor} |"
    return f"sox {shlex.quote(entry)} -t wav - speed {factor} |"


def speed_prefix(factor: float) -> str:
    """The id prefix of a speed copy: none for 1.0, ``sp0.9-`` for 0.9."""
    return "" if factor == 1.0 else f"sp{factor:g}-"


def perturb_kv(utt2value: dict[str, str], factors: list[float]) -> dict[str, str]:
    """A per-utterance file whose value every speed copy keeps (e.g. ``utt2category``).

    >>> perturb_kv({"u1": "en"}, [0.9, 1.0])
    {'sp0.9-u1': 'en', 'u1': 'en'}
    """
    return {speed_prefix(f) + u: v for f in factors for u, v in utt2value.items()}


def perturb(d: DataDir, factors: list[float]) -> DataDir:
    """A directory with one copy of ``d`` per speed factor."""
    out = DataDir()
    for f in factors:
        prefix = speed_prefix(f)
        for utt in d.wav:
            key = prefix + utt
            out.wav[key] = d.wav[utt] if f == 1.0 else speed_entry(d.wav[utt], f)
            out.text[key] = d.text[utt]
            out.utt2spk[key] = prefix + d.utt2spk[utt]
    return out


def perturb_segmented(src: Path, dst: Path, factors: list[float]) -> int:
    """Speed perturbation of a directory with ``segments``; returns the number of utterances."""
    from espnet_ddp.tools.format_audio import read_segments

    wav, text, utt2spk = (read_kv(src / f) for f in ("wav.scp", "text", "utt2spk"))
    segs = read_segments(src / "segments")
    out_wav, out_text, out_spk, out_seg = {}, {}, {}, {}
    for f in factors:
        prefix = "" if f == 1.0 else f"sp{f:g}-"
        for rec, entry in wav.items():
            out_wav[prefix + rec] = entry if f == 1.0 else speed_entry(entry, f)
        for utt, (rec, start, end) in segs.items():
            key = prefix + utt
            new_end = end if end == -1 else round(end / f, 3)
            out_seg[key] = f"{prefix}{rec} {round(start / f, 3):g} {new_end:g}"
            out_text[key] = text[utt]
            out_spk[key] = prefix + utt2spk[utt]
    # wav.scp keyed by recording, the rest by utterance: the layout of a segmented directory
    DataDir(wav=out_wav, text=out_text, utt2spk=out_spk).write(dst)
    write_kv(dst / "segments", out_seg)
    return len(out_seg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", required=True, help='e.g. "0.9 1.0 1.1"')
    parser.add_argument("src")
    parser.add_argument("dst")
    args = parser.parse_args(argv)
    try:
        factors = [float(x) for x in args.factors.split()]
    except ValueError:
        parser.error(f"--factors must be numbers, got {args.factors!r}")
    if not factors or any(f <= 0 for f in factors):
        parser.error(f"--factors must be positive numbers, got {args.factors!r}")
    if (Path(args.src) / "segments").is_file():
        n = perturb_segmented(Path(args.src), Path(args.dst), factors)
    else:
        d = perturb(DataDir.read(args.src), factors)
        d.write(args.dst)
        n = len(d.wav)
    categories = Path(args.src) / "utt2category"
    if categories.exists():
        write_kv(Path(args.dst) / "utt2category", perturb_kv(read_kv(categories), factors))
    print(f"perturb_speed: {n} utterances ({args.factors}) -> {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
