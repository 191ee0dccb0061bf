"""Builds tiny ESPnet inputs and runs (short) stock ESPnet training for the report tests.

Responsible for: a synthetic Kaldi-style data dir (espeak-ng speech, 16 kHz wav), a character
token list, a tiny ASR config, shape files (so no statistics stage is needed) and the ESPnet
training call. Not responsible for decoding or scoring: the tests write ``RESULTS.md``
themselves, in the recipe's format.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import soundfile

SENTENCES = (
    "hello world",
    "the cat sat on the mat",
    "good morning",
    "speech recognition is fun",
    "one two three four",
    "a quick brown fox",
)

TINY_CONFIG = """\
encoder: transformer
encoder_conf:
    output_size: 16
    attention_heads: 2
    linear_units: 32
    num_blocks: 1
    input_layer: conv2d
decoder: transformer
decoder_conf:
    attention_heads: 2
    linear_units: 32
    num_blocks: 1
frontend_conf:
    n_fft: 256
    hop_length: 128
    n_mels: 20
model_conf:
    ctc_weight: 0.3
batch_type: sorted
batch_size: 3
optim: adam
optim_conf:
    lr: 0.001
num_workers: 0
use_tensorboard: false
num_att_plot: 0
"""


def have_espeak() -> bool:
    """True when the espeak-ng and sox binaries are on PATH."""
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def synthesize(text: str, wav: Path, fs: int = 16000) -> None:
    """Speaks ``text`` with espeak-ng into a mono 16-bit wav at ``fs``."""
    raw = wav.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(fs), "-c", "1", "-b", "16", str(wav)], check=True)
    raw.unlink()


def make_data_dir(root: Path, sentences: tuple[str, ...] = SENTENCES) -> Path:
    """Writes a Kaldi-style data dir (wav.scp, text, utt2spk, spk2utt) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    wav_dir = root / "wav"
    wav_dir.mkdir(exist_ok=True)
    ids = []
    for i, sentence in enumerate(sentences):
        utt = f"spk1-utt{i:03d}"
        synthesize(sentence, wav_dir / f"{utt}.wav")
        ids.append((utt, sentence))
    _write(root / "wav.scp", [f"{u} {wav_dir / u}.wav" for u, _ in ids])
    _write(root / "text", [f"{u} {s}" for u, s in ids])
    _write(root / "utt2spk", [f"{u} spk1" for u, _ in ids])
    _write(root / "spk2utt", ["spk1 " + " ".join(u for u, _ in ids)])
    return root


def make_token_list(path: Path, sentences: tuple[str, ...] = SENTENCES) -> Path:
    """Writes an ESPnet character token list for ``sentences``."""
    chars = sorted({c for s in sentences for c in s if c != " "})
    _write(path, ["<blank>", "<unk>", "<space>", *chars, "<sos/eos>"])
    return path


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_shape_file(data: Path, path: Path) -> Path:
    """Writes ``utt num_samples`` lines, as ESPnet's statistics stage would (no ESPnet run)."""
    lines = []
    for line in (data / "wav.scp").read_text(encoding="utf-8").splitlines():
        utt, wav = line.split(maxsplit=1)
        lines.append(f"{utt} {soundfile.info(wav).frames}")
    _write(path, lines)
    return path


def _common_args(data: Path, tokens: Path, config: Path) -> list[str]:
    wav = f"{data / 'wav.scp'},speech,sound"
    text = f"{data / 'text'},text,text"
    return [
        "--config", str(config),
        "--use_preprocessor", "true",
        "--token_type", "char",
        "--token_list", str(tokens),
        "--ngpu", "0",
        "--train_data_path_and_name_and_type", wav,
        "--train_data_path_and_name_and_type", text,
        "--valid_data_path_and_name_and_type", wav,
        "--valid_data_path_and_name_and_type", text,
    ]  # fmt: skip


def run_espnet(args: list[str], module: str, log: Path, timeout: float = 300) -> None:
    """Runs ``python -m module args`` and raises with the log's tail when it fails."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    with open(log, "w", encoding="utf-8") as f:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args],
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=timeout,
        )
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8")[-3000:]
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{tail}")


def train_tiny(
    work: Path,
    exp_dir: Path,
    max_epoch: int = 2,
    module: str = "espnet2.bin.asr_train",
    extra_args: tuple[str, ...] = (),
) -> Path:
    """Trains a tiny model into ``exp_dir`` (utterance MVN, so no statistics stage needed)."""
    data = work / "data"
    if not (data / "wav.scp").exists():
        make_data_dir(data)
    tokens = make_token_list(work / "tokens.txt")
    config = work / "tiny.yaml"
    config.write_text(TINY_CONFIG, encoding="utf-8")
    shape = write_shape_file(data, work / "speech_shape")
    args = _common_args(data, tokens, config) + [
        "--output_dir", str(exp_dir),
        "--max_epoch", str(max_epoch),
        "--normalize", "utterance_mvn",
        "--train_shape_file", str(shape),
        "--valid_shape_file", str(shape),
        *extra_args,
    ]  # fmt: skip
    exp_dir.mkdir(parents=True, exist_ok=True)
    run_espnet(args, module, exp_dir / "train.log")
    return exp_dir
