"""Checks that the audio of one ``wav.scp`` entry can be used, without decoding all of it.

Responsible for: plain files (they exist; their header reads, gives a frame count that is not 0
and the expected sampling rate; their data is complete: a FLAC file's last frame decodes, since a
truncated FLAC keeps a header that counts every sample, and a WAV file holds the bytes its data
chunk declares, since libsndfile silently shortens a truncated WAV), and Kaldi ark entries
``<file>.ark:<offset>`` (the record is decoded, as ESPnet's ``kaldi_ark`` loader does). Each
problem is one line naming the utterance and the file. Not responsible for pipes (``cmd |``: they
are checked when they run) nor for what the audio says.

>>> import tempfile, numpy as np
>>> d = Path(tempfile.mkdtemp())
>>> soundfile.write(d / "a.flac", np.zeros(16000), 16000, subtype="PCM_16")
>>> check_audio("u1", str(d / "a.flac"), 16000) is None
True
>>> print(check_audio("u1", str(d / "a.flac"), 8000).replace(str(d), "D"))
utterance u1: sampling rate 16000 Hz, expected 8000 Hz (--fs 8000; D/a.flac)
>>> _ = (d / "b.flac").write_bytes((d / "a.flac").read_bytes()[:-10])  # cut short
>>> print(check_audio("u2", str(d / "b.flac"), 16000).replace(str(d), "D"))  # doctest: +ELLIPSIS
utterance u2: truncated or corrupt audio file D/b.flac (16000 frames in its header, ...)
"""

from __future__ import annotations

import re
from pathlib import Path

import soundfile

from espnet_ddp.tools.audio_io import is_pipe

_ARK_ENTRY = re.compile(r"^(?P<path>.+):(?P<offset>\d+)$")
_UNKNOWN_FRAMES = 2**62  # libsndfile's frame count when the header does not give one


def describe(err: BaseException) -> str:
    """``str(err)``, or its type and arguments when that fails (some libsndfile errors do)."""
    try:
        text = str(err)
    except Exception:  # noqa: BLE001 - whatever str() raises, say something useful
        text = ""
    if text.strip():
        return text
    code = getattr(err, "code", None)
    return f"{type(err).__name__}{f' (libsndfile error code {code})' if code is not None else ''}"


def ark_entry(entry: str) -> tuple[Path, int] | None:
    """(ark file, byte offset) of a ``<file>:<offset>`` entry that is not itself a file path."""
    m = _ARK_ENTRY.match(entry.strip())
    if m is None or Path(entry).exists():
        return None
    return Path(m["path"]), int(m["offset"])


def wav_missing_bytes(path: Path) -> int:
    """Bytes that a RIFF/WAVE file's data chunk declares beyond the end of the file (0 when it
    is complete, is no RIFF/WAVE file, or was streamed with an unknown size)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        pos = 12
        while True:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                return 0  # no data chunk: libsndfile's header check decides
            declared = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                if declared in (0, 0xFFFFFFFF):
                    return 0
                return max(0, pos + 8 + declared - size)
            pos += 8 + declared + (declared & 1)


def last_frame_error(path: Path, frames: int) -> str | None:
    """Why the last frame of ``path`` cannot be read (a seek and one frame), or None. A
    failure is confirmed by decoding the whole file, so a seek that libsndfile cannot do on a
    complete file is not reported."""
    try:
        with soundfile.SoundFile(str(path)) as f:
            f.seek(frames - 1)
            if len(f.read(1)) == 1:
                return None
            why = "no sample at the end"
    except Exception as e:  # noqa: BLE001 - any decoder error means the end is not readable
        why = describe(e)
    try:
        data, _ = soundfile.read(str(path), dtype="int16")
    except Exception as e:  # noqa: BLE001
        return describe(e)
    return None if len(data) == frames else f"{len(data)} frames decode; {why}"


def check_ark(utt: str, path: Path, offset: int, fs: int | None) -> str | None:
    """Problem of one ark record (decoded as ESPnet's ``kaldi_ark`` loader does), or None."""
    import kaldiio

    where = f"{path}:{offset}"
    if not path.is_file():
        return f"utterance {utt}: missing audio file {path} (ark entry {where})"
    try:
        loaded = kaldiio.load_mat(where)
    except Exception as e:  # noqa: BLE001
        return f"utterance {utt}: unreadable ark record {where} ({describe(e)})"
    if not (isinstance(loaded, tuple) and len(loaded) == 2):
        return f"utterance {utt}: ark record {where} holds no audio (a matrix?)"
    rate, samples = loaded
    if len(samples) == 0:
        return f"utterance {utt}: empty audio in ark record {where}"
    if fs is not None and int(rate) != fs:
        return f"utterance {utt}: sampling rate {rate} Hz, expected {fs} Hz (--fs {fs}; {where})"
    return None


def check_audio(utt: str, entry: str, fs: int | None, complete: bool = True) -> str | None:
    """A problem of one utterance's audio, as one line naming it and the file, or None.

    ``complete``: also make sure the data is all there (FLAC: the last frame decodes; WAV: the
    data chunk's declared size is in the file); without it only the header is read.
    """
    if is_pipe(entry):
        return None
    ark = ark_entry(entry)
    if ark is not None:
        return check_ark(utt, ark[0], ark[1], fs)
    path = Path(entry)
    if not path.is_file():
        return f"utterance {utt}: missing audio file {entry}"
    try:
        info = soundfile.info(str(path))
    except Exception as e:  # noqa: BLE001 - any decoder error is reported as unreadable
        return f"utterance {utt}: unreadable audio file {entry} ({describe(e)})"
    if info.frames == 0:
        return f"utterance {utt}: empty audio file {entry}"
    if info.frames < 0 or info.frames >= _UNKNOWN_FRAMES:
        return f"utterance {utt}: audio file {entry}: its header gives no frame count"
    if fs is not None and info.samplerate != fs:
        return (
            f"utterance {utt}: sampling rate {info.samplerate} Hz, expected {fs} Hz "
            f"(--fs {fs}; {entry})"
        )
    if not complete:
        return None
    if info.format in ("WAV", "WAVEX"):
        missing = wav_missing_bytes(path)
        if missing:
            return (
                f"utterance {utt}: truncated audio file {entry} ({missing} bytes of the data "
                "its header declares are missing)"
            )
    elif info.format == "FLAC":
        why = last_frame_error(path, info.frames)
        if why is not None:
            return (
                f"utterance {utt}: truncated or corrupt audio file {entry} ({info.frames} "
                f"frames in its header, but its end does not decode: {why})"
            )
    return None
