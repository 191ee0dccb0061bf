"""Reading and writing Kaldi-style data directories (``wav.scp``, ``text``, ``utt2spk``, ...).

Responsible for the file formats only: one ``key value`` pair per line, sorted by key (``LC_ALL=C``
order, i.e. by code point), in UTF-8: a file that is not UTF-8 is refused naming its path, line and
utterance id (:func:`bad_utf8`). Not responsible for checking audio; see ``validate_data_dir``.

>>> d = DataDir(wav={"u1": "/a.flac"}, text={"u1": "HELLO"}, utt2spk={"u1": "s1"})
>>> d.spk2utt()
{'s1': ['u1']}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def bad_utf8(path: str | Path) -> str | None:
    """Where ``path`` is first not UTF-8, as ``<path>:<line>: utterance <id>: ...``; None when
    all of it is.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "text"
    >>> _ = p.write_bytes(b"u1 HELLO\\nu2 CAF\\xc9 NOIR\\n")  # Latin-1, not UTF-8
    >>> print(bad_utf8(p).replace(str(p), "text"))
    text:2: utterance u2: not UTF-8: byte 0xc9 at byte 7 of the line (invalid continuation byte)
    """
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                fields = raw.split(maxsplit=1)
                key = fields[0].decode("utf-8", "backslashreplace") if fields else ""
                bad = " ".join(f"0x{b:02x}" for b in raw[e.start : e.end])
                return (
                    f"{path}:{n}: utterance {key}: not UTF-8: byte {bad} at byte {e.start + 1} "
                    f"of the line ({e.reason})"
                )
    return None


def read_kv(path: str | Path, allow_empty_value: bool = True) -> dict[str, str]:
    """Reads a ``key value...`` file into a dict; the value is the rest of the line.

    ``ValueError`` names the file and line of a duplicate key, a missing value (when not
    allowed) or text that is not UTF-8 (:func:`bad_utf8`)."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                key, _, value = line.partition(" ")
                value = value.strip()
                if not value and not allow_empty_value:
                    raise ValueError(f"{path}:{n}: no value for key {key!r}")
                if key in out:
                    raise ValueError(f"{path}:{n}: duplicate key {key!r}")
                out[key] = value
    except UnicodeDecodeError:
        raise ValueError(bad_utf8(path) or f"{path}: not UTF-8") from None
    return out


def write_kv(path: str | Path, mapping: Mapping[str, str]) -> None:
    """Writes ``key value`` lines sorted by key (C locale order)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for key in sorted(mapping):
            value = mapping[key]
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")


@dataclass
class DataDir:
    """The four files of a Kaldi data directory, kept as dicts keyed by utterance id."""

    wav: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    utt2spk: dict[str, str] = field(default_factory=dict)

    def spk2utt(self) -> dict[str, list[str]]:
        """Speaker id -> sorted list of its utterance ids."""
        out: dict[str, list[str]] = {}
        for utt in sorted(self.utt2spk):
            out.setdefault(self.utt2spk[utt], []).append(utt)
        return out

    def write(self, dst: str | Path) -> None:
        """Writes wav.scp, text, utt2spk and spk2utt into ``dst`` (created if needed)."""
        dst = Path(dst)
        dst.mkdir(parents=True, exist_ok=True)
        write_kv(dst / "wav.scp", self.wav)
        write_kv(dst / "text", self.text)
        write_kv(dst / "utt2spk", self.utt2spk)
        write_kv(dst / "spk2utt", {s: " ".join(u) for s, u in self.spk2utt().items()})

    @classmethod
    def read(cls, src: str | Path) -> DataDir:
        """Reads wav.scp, text and utt2spk from ``src``."""
        src = Path(src)
        return cls(
            wav=read_kv(src / "wav.scp"),
            text=read_kv(src / "text"),
            utt2spk=read_kv(src / "utt2spk"),
        )

    def subset(self, utts: set[str]) -> DataDir:
        """The same directory restricted to ``utts``."""
        return DataDir(
            wav={k: v for k, v in self.wav.items() if k in utts},
            text={k: v for k, v in self.text.items() if k in utts},
            utt2spk={k: v for k, v in self.utt2spk.items() if k in utts},
        )
