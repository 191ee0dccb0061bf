"""Reading and writing Kaldi-style data directories (``wav.scp``, ``text``, ``utt2spk``, ...).

Responsible for the file formats only: one ``key value`` pair per line, sorted by key (``LC_ALL=C``
order, i.e. by code point). Not responsible for checking audio; see ``validate_data_dir``.

>>> d = DataDir(wav={"u1": "/a.flac"}, text={"u1": "HELLO"}, utt2spk={"u1": "s1"})
>>> d.spk2utt()
{'s1': ['u1']}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def read_kv(path: str | Path, allow_empty_value: bool = True) -> dict[str, str]:
    """Reads a ``key value...`` file into a dict; the value is the rest of the line."""
    out: dict[str, str] = {}
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
