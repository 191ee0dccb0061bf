"""Bad data past stage 1, at the tools of stages 3, 4 and 10 (``espnet_ddp.tools``), on a few
utterances of noise (about 2 s in all):

- format_audio (stage 3) formats again an utterance whose source changed since it was formatted
  (or was formatted at another rate), and stops naming the utterance and file whose source is gone;
- filter_data_dir (stage 4) lists what it leaves out, with the reason, in ``dropped_utts`` and
  its log line; ids that differ between the files and text that is not UTF-8 are errors naming
  the ids, or the file, line and utterance; a failure leaves the previous directory as it was;
- validate_data_dir (the check before stage 10) refuses a truncated FLAC or WAV, an unreadable
  file, a sampling rate other than ``--fs``, in files and in ark records, naming utterance and file.
"""

from __future__ import annotations

import doctest
import importlib
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_ddp.tools import filter_data_dir, format_audio, validate_data_dir
from espnet_ddp.tools.datadir import read_kv

FS = 16000


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * FS))


def write_dir(d: Path, seconds: dict[str, float], fmt: str = "flac", fs: int = FS) -> Path:
    """A data directory: one noise file per utterance, text "a b", one speaker per utterance."""
    d.mkdir(parents=True)
    for k, (utt, s) in enumerate(sorted(seconds.items())):
        sf.write(d / f"{utt}.{fmt}", noise(s, k)[: int(s * fs)], fs, subtype="PCM_16")
    (d / "wav.scp").write_text("".join(f"{u} {d / f'{u}.{fmt}'}\n" for u in sorted(seconds)))
    (d / "text").write_text("".join(f"{u} a b\n" for u in sorted(seconds)))
    (d / "utt2spk").write_text("".join(f"{u} {u}\n" for u in sorted(seconds)))
    return d


@pytest.mark.parametrize(
    "module", ["audio_check", "datadir", "filter_data_dir", "source_stamps", "validate_data_dir"]
)
def test_module_doctests(module):
    mod = importlib.import_module(f"espnet_ddp.tools.{module}")
    result = doctest.testmod(mod)
    assert result.failed == 0 and result.attempted > 0


# -- stage 3 ------------------------------------------------------------------------------------


def format_dir(src: Path, out: Path, fs: int = FS) -> int:
    return format_audio.main(["--fs", str(fs), str(src / "wav.scp"), str(out / "audio"),
                              str(out / "wav.scp"), str(out / "utt2num_samples")])  # fmt: skip


def test_stage3_formats_again_a_source_that_changed(tmp_path, capsys):
    src = write_dir(tmp_path / "data", {"u1": 0.5, "u2": 0.6})
    out = tmp_path / "dump"
    assert format_dir(src, out) == 0
    assert read_kv(out / "utt2num_samples") == {"u1": "8000", "u2": "9600"}
    formatted = out / "audio" / "u2.flac"
    first = formatted.stat().st_mtime_ns
    assert format_dir(src, out) == 0  # nothing changed: reused, not written again
    assert formatted.stat().st_mtime_ns == first
    sf.write(src / "u2.flac", noise(0.9, 7), FS, subtype="PCM_16")  # the source is replaced
    assert format_dir(src, out) == 0
    assert read_kv(out / "utt2num_samples") == {"u1": "8000", "u2": "14400"}
    np.testing.assert_array_equal(sf.read(formatted)[0], sf.read(src / "u2.flac")[0])
    assert "formatted 1 utterance(s) again, their source changed since they were formatted: u2" in (
        capsys.readouterr().err
    )
    assert format_dir(src, out, fs=8000) == 0  # another rate: formatted again
    assert read_kv(out / "utt2num_samples") == {"u1": "4000", "u2": "7200"}
    assert sf.info(formatted).samplerate == 8000


def test_stage3_stops_naming_a_source_that_is_gone(tmp_path, capsys):
    src = write_dir(tmp_path / "data", {"u1": 0.5, "u2": 0.6})
    out = tmp_path / "dump"
    assert format_dir(src, out) == 0
    (out / "audio" / ".u1.flac.tmp").write_bytes(b"half")  # left by a killed job
    (src / "u2.flac").unlink()
    capsys.readouterr()
    assert format_dir(src, out) == 1
    assert capsys.readouterr().err == (
        f"format_audio: utterance u2: source audio file {src / 'u2.flac'} is gone; its copy "
        f"formatted earlier, {out / 'audio' / 'u2.flac'}, is not reused (restore it, or remove "
        "the utterance from the data directory)\n"
    )
    assert not (out / "audio" / ".u1.flac.tmp").exists()


# -- stage 4 ------------------------------------------------------------------------------------


def formatted_dir(d: Path, seconds: dict[str, float]) -> Path:
    write_dir(d, seconds)
    lengths = "".join(f"{u} {int(s * FS)}\n" for u, s in sorted(seconds.items()))
    (d / "utt2num_samples").write_text(lengths)
    (d / "spk2utt").write_text("".join(f"{u} {u}\n" for u in sorted(seconds)))
    return d


def filter_dir(src: Path, dst: Path) -> int:
    return filter_data_dir.main(["--min_samples", "1600", "--max_samples", "16000", "--fs", "16000",
                                 str(src), str(dst)])  # fmt: skip


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_stage4_says_which_utterances_it_leaves_out_and_why(tmp_path, capsys):
    src = formatted_dir(tmp_path / "org", {"u1": 0.5, "u2": 0.05, "u3": 1.5, "u4": 0.5})
    (src / "text").write_text("u1 a b\nu2 a\nu3 b\nu4  \n")
    dst = tmp_path / "train"
    assert filter_dir(src, dst) == 0
    assert read_kv(dst / "dropped_utts") == {
        "u2": "too short: 800 samples (0.05 s) < --min_samples 1600 (0.1 s)",
        "u3": "too long: 24000 samples (1.5 s) > --max_samples 16000 (1 s)",
        "u4": "empty transcript",
    }
    assert capsys.readouterr().out == (
        f"filter_data_dir: kept 1 of 4 utterances -> {dst}; left out 3 ({dst / 'dropped_utts'}): "
        "u2 (too short: 800 samples (0.05 s) < --min_samples 1600 (0.1 s)), u3 (too long: "
        "24000 samples (1.5 s) > --max_samples 16000 (1 s)), u4 (empty transcript)\n"
    )
    assert list(read_kv(dst / "wav.scp")) == ["u1"] and (dst / "spk2utt").read_text() == "u1 u1\n"


def test_stage4_refuses_ids_that_differ_and_keeps_the_previous_dump(tmp_path, capsys):
    src = formatted_dir(tmp_path / "org", {"u1": 0.5, "u2": 0.5, "u3": 0.5})
    dst = tmp_path / "train"
    assert filter_dir(src, dst) == 0
    before = snapshot(dst)
    (src / "text").write_text("u1 a\nu3 b\nu9 c\n")
    (src / "utt2spk").write_text("u1 s\nu3 s\n")
    capsys.readouterr()
    assert filter_dir(src, dst) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"filter_data_dir: {src}: utterance ids differ between its files: 2 problem(s):\n"
        "  utterance u2: not in text, utt2spk\n"
        "  utterance u9: not in wav.scp, utt2spk, utt2num_samples\n"
    )
    assert snapshot(dst) == before


def test_stage4_names_file_line_and_utterance_of_bad_utf8_and_keeps_the_dump(tmp_path, capsys):
    src = formatted_dir(tmp_path / "org", {"u1": 0.5, "u2": 0.5, "u3": 0.5})
    dst = tmp_path / "train"
    assert filter_dir(src, dst) == 0
    before = snapshot(dst)
    (src / "text").write_bytes(b"u1 a b\nu2 caf\xe9 noir\nu3 c\n")  # Latin-1
    capsys.readouterr()
    assert filter_dir(src, dst) == 1
    assert capsys.readouterr().err == (
        f"filter_data_dir: {src / 'text'}:2: utterance u2: not UTF-8: byte 0xe9 at byte 7 of "
        "the line (invalid continuation byte)\n"
    )
    assert snapshot(dst) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["org", "train"]


def test_stage4_failing_half_way_leaves_the_previous_dump(tmp_path, monkeypatch, capsys):
    src = formatted_dir(tmp_path / "org", {"u1": 0.5, "u2": 0.5})
    dst = tmp_path / "train"
    assert filter_dir(src, dst) == 0
    before = snapshot(dst)
    real = filter_data_dir.write_filtered

    def disk_full(src_dir, new, keep, dropped):
        real(src_dir, new, keep, dropped)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(filter_data_dir, "write_filtered", disk_full)
    assert filter_dir(src, dst) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert snapshot(dst) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["org", "train"]


# -- the check before stage 10 -------------------------------------------------------------------


def validate(*args: str) -> int:
    return validate_data_dir.main(["--fs", str(FS), *args])


def test_validate_refuses_truncated_flac_and_wav(tmp_path, capsys):
    d = write_dir(tmp_path / "flac", {"u1": 1.0, "u2": 1.0})
    w = write_dir(tmp_path / "wav", {"w1": 1.0, "w2": 1.0}, fmt="wav")
    assert validate(str(d), str(w)) == 0
    flac, wav = d / "u2.flac", w / "w1.wav"
    flac.write_bytes(flac.read_bytes()[:-100])
    wav.write_bytes(wav.read_bytes()[:-100])
    assert sf.info(flac).frames == FS  # the header still counts every sample
    capsys.readouterr()
    assert validate(str(d), str(w)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"validate_data_dir: {d}: 1 problem(s):",
        f"  utterance u2: truncated or corrupt audio file {flac} (16000 frames in its header, "
        "but its end does not decode: Error : flac decoder lost sync.)",
        f"validate_data_dir: {w}: 1 problem(s):",
        f"  utterance w1: truncated audio file {wav} (100 bytes of the data its header "
        "declares are missing)",
    ]


def test_validate_names_unreadable_and_wrong_rate_files(tmp_path, capsys):
    d = write_dir(tmp_path / "d", {"u1": 0.5, "u2": 0.5, "u3": 0.5})
    (d / "u1.flac").write_bytes(b"fLaC" + bytes(64))
    sf.write(d / "u3.flac", noise(0.5), 8000, subtype="PCM_16")
    assert validate(str(d)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"validate_data_dir: {d}: 2 problem(s):"
    assert err[1].startswith(f"  utterance u1: unreadable audio file {d}/u1.flac (Error opening")
    assert err[2] == (
        f"  utterance u3: sampling rate 8000 Hz, expected 16000 Hz (--fs 16000; {d}/u3.flac)"
    )


def test_validate_checks_ark_records(tmp_path, capsys):
    import kaldiio

    d = tmp_path / "ark"
    d.mkdir()
    with open(d / "data.ark", "wb") as f, open(d / "wav.scp", "w") as scp:
        kaldiio.save_ark(f, {"u1": (noise(0.5), FS), "u2": (noise(0.5), 8000)}, scp=scp,
                         write_function="soundfile",
                         write_kwargs={"format": "flac", "subtype": "PCM_16"})  # fmt: skip
    (d / "text").write_text("u1 a\nu2 b\n")
    (d / "utt2spk").write_text("u1 s\nu2 s\n")
    assert validate(str(d)) == 1
    offset = read_kv(d / "wav.scp")["u2"]
    assert capsys.readouterr().err.splitlines()[1:] == [
        f"  utterance u2: sampling rate 8000 Hz, expected 16000 Hz (--fs 16000; {offset})"
    ]
    assert validate_data_dir.main(["--fs", "8000", str(d)]) == 1  # now u1 is the odd one
    data = (d / "data.ark").read_bytes()
    (d / "data.ark").write_bytes(data[: len(data) - 50])  # u2's record cut short
    assert validate_data_dir.main([str(d)]) == 1
    assert f"utterance u2: unreadable ark record {offset}" in capsys.readouterr().err


def test_validate_reports_bad_utf8_with_file_line_and_utterance(tmp_path, capsys):
    d = write_dir(tmp_path / "d", {"u1": 0.5, "u2": 0.5})
    (d / "text").write_bytes(b"u1 a\nu2 \xff\n")
    assert validate("--no_audio", str(d)) == 1
    assert capsys.readouterr().err == (
        f"validate_data_dir: {d}: {d / 'text'}:2: utterance u2: not UTF-8: byte 0xff at byte 4 "
        "of the line (invalid start byte)\n"
    )


def test_the_check_reads_headers_with_threads_in_order(tmp_path, capsys):
    d = write_dir(tmp_path / "d", {f"u{i}": 0.2 for i in range(8)})
    for i in (6, 2):
        os.remove(d / f"u{i}.flac")
    assert validate("--nj", "4", str(d)) == 1
    assert capsys.readouterr().err.splitlines()[1:] == [
        f"  utterance u{i}: missing audio file {d / f'u{i}.flac'}" for i in (2, 6)
    ]
