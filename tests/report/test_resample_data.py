"""resample_data on synthetic tones: exact sample counts, surviving frequency, data dir files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_ddp.tools.resample_data import Resampling, degrade, main

FS = 16000
TONE_HZ = 1000.0


def tone(freq: float, seconds: float = 1.0, fs: int = FS) -> np.ndarray:
    t = np.arange(int(round(seconds * fs))) / fs
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, fs: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / fs)[np.argmax(spectrum)])


def read_kv(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines if line.strip())


@pytest.fixture
def src_dir(tmp_path: Path) -> Path:
    """Two utterances: a 1 s file entry, and a 0.75 s entry read through a ``cmd |`` pipe."""
    src = tmp_path / "src"
    audio = tmp_path / "audio"
    src.mkdir()
    audio.mkdir()
    soundfile.write(audio / "a.wav", tone(TONE_HZ), FS, subtype="PCM_16")
    soundfile.write(audio / "b.flac", tone(TONE_HZ, 0.75), FS, subtype="PCM_16")
    (src / "wav.scp").write_text(f"spk-a {audio / 'a.wav'}\nspk-b cat {audio / 'b.flac'} |\n")
    (src / "text").write_text("spk-a HELLO\nspk-b WORLD\n")
    (src / "utt2spk").write_text("spk-a spk\nspk-b spk\n")
    (src / "spk2utt").write_text("spk spk-a spk-b\n")
    (src / "utt2num_samples").write_text("spk-a 16000\nspk-b 12000\n")
    return src


@pytest.mark.parametrize(
    ("rate", "mode", "out_rate", "lengths"),
    [
        (8000, "asis", 8000, {"spk-a": 8000, "spk-b": 6000}),
        (11025, "asis", 11025, {"spk-a": 11025, "spk-b": 8269}),
        (8000, "back", FS, {"spk-a": 16000, "spk-b": 12000}),
        (11025, "back", FS, {"spk-a": 16000, "spk-b": 12000}),
    ],
)
def test_counts_rate_and_frequency(
    src_dir: Path, tmp_path: Path, rate: int, mode: str, out_rate: int, lengths: dict
) -> None:
    dst = tmp_path / f"dst_{rate}_{mode}"
    assert main(["--rate", str(rate), "--mode", mode, str(src_dir), str(dst)]) == 0
    wav = read_kv(dst / "wav.scp")
    assert set(wav) == {"spk-a", "spk-b"}
    for utt, path in wav.items():
        assert Path(path).parent == (dst / "data").resolve()
        x, fs = soundfile.read(path)
        assert fs == out_rate
        assert len(x) == lengths[utt]
        assert abs(peak_hz(x, fs) - TONE_HZ) <= 2.0
    assert {k: int(v) for k, v in read_kv(dst / "utt2num_samples").items()} == lengths
    for name in ("text", "utt2spk", "spk2utt"):
        assert (dst / name).read_text() == (src_dir / name).read_text()


def test_band_above_the_new_nyquist_is_removed() -> None:
    x = tone(TONE_HZ) + tone(6000.0)  # 6 kHz cannot survive 8 kHz sampling
    y = degrade(x, FS, Resampling(rate=8000, mode="back"))
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / FS)
    level = {f: spectrum[np.argmin(np.abs(freqs - f))] for f in (TONE_HZ, 6000.0)}
    assert level[6000.0] < 1e-3 * level[TONE_HZ]
    assert len(y) == len(x)


def test_same_rate_is_lossless_in_length_and_content() -> None:
    x = tone(TONE_HZ)
    y = degrade(x, FS, Resampling(rate=FS, mode="asis"))
    assert np.array_equal(x, y)


def test_flac_output_and_segments(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    soundfile.write(tmp_path / "rec.wav", tone(TONE_HZ, 2.0), FS, subtype="PCM_16")
    (src / "wav.scp").write_text(f"rec {tmp_path / 'rec.wav'}\n")
    (src / "segments").write_text("rec-1 rec 0.0 1.0\nrec-2 rec 1.0 1.5\n")
    (src / "text").write_text("rec-1 A\nrec-2 B\n")
    (src / "utt2spk").write_text("rec-1 s\nrec-2 s\n")
    (src / "spk2utt").write_text("s rec-1 rec-2\n")
    dst = tmp_path / "dst"
    args = ["--rate", "8000", "--mode", "asis", "--audio_format", "flac", str(src), str(dst)]
    assert main(args) == 0
    assert not (dst / "segments").exists()
    assert read_kv(dst / "utt2num_samples") == {"rec-1": "8000", "rec-2": "4000"}
    path = read_kv(dst / "wav.scp")["rec-1"]
    assert path.endswith(".flac") and soundfile.info(path).samplerate == 8000


def test_parallel_jobs_match_serial(src_dir: Path, tmp_path: Path) -> None:
    for nj in ("1", "2"):
        assert (
            main(
                ["--rate", "12000", "--mode", "back", "--nj", nj, str(src_dir), str(tmp_path / nj)]
            )
            == 0
        )
    for utt in ("spk-a", "spk-b"):
        a, _ = soundfile.read(read_kv(tmp_path / "1" / "wav.scp")[utt])
        b, _ = soundfile.read(read_kv(tmp_path / "2" / "wav.scp")[utt])
        assert np.array_equal(a, b)


def test_errors_are_messages_not_tracebacks(src_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["--rate", "8000", "--mode", "asis", str(src_dir), str(src_dir)]) == 1
    assert (
        main(["--rate", "8000", "--mode", "asis", str(tmp_path / "nope"), str(tmp_path / "d")]) == 1
    )
    assert "resample_data: error" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--rate", "8000", "--mode", "sideways", str(src_dir), str(tmp_path / "d")])


def test_command_line_entry_point(src_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    dst = tmp_path / "cli"
    cmd = [sys.executable, "-m", "espnet_ddp.tools.resample_data", "--rate", "8000"]
    proc = subprocess.run([*cmd, "--mode", "asis", str(src_dir), str(dst)], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert soundfile.info(read_kv(dst / "wav.scp")["spk-a"]).frames == 8000
