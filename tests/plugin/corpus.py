"""A tiny synthesized ASR corpus (espeak-ng) laid out the way ESPnet's training reads it."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

SUBJECTS = [
    "the red fox", "a small boat", "my brother", "the old clock", "our teacher", "a green bird"
]
VERBS = ["sees", "carries", "finds", "paints", "follows", "lifts"]
OBJECTS = [
    "a heavy box", "the blue door", "seven apples", "the quiet river", "a tall tree", "his hat"
]
TAILS = ["today", "at noon", "in the rain", "again", "slowly", "near the hill"]
VOICES = ["en", "en-us", "en+f3", "en+m3"]


def make_sentences(n: int, seed: int) -> list[str]:
    """``n`` distinct upper-case sentences from a small grammar of our own."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < n:
        words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
        if rng.random() < 0.6:
            words.append(rng.choice(TAILS))
        s = " ".join(words).upper()
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def speak(text: str, voice: str, speed: int, raw: Path) -> tuple[np.ndarray, int]:
    """espeak-ng's waveform of ``text`` (float32 mono) and its sampling rate; ``raw`` is scratch."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text.lower()],
        check=True,
        capture_output=True,
    )
    wav, rate = sf.read(raw, dtype="float32")
    raw.unlink()
    return wav, rate


def synthesize(text: str, path: Path, voice: str, speed: int, fs: int = 16000) -> int:
    """Speak ``text`` into a 16 kHz mono 16-bit wav; returns its number of samples."""
    wav, rate = speak(text, voice, speed, path.with_suffix(".raw.wav"))
    if rate != fs:
        n_out = int(round(len(wav) * fs / rate))
        wav = np.interp(np.linspace(0, len(wav) - 1, n_out), np.arange(len(wav)), wav)
    sf.write(path, wav.astype(np.float32), fs, subtype="PCM_16")
    return int(len(wav))


def build_corpus(root: Path, n_train: int = 24, n_valid: int = 6, seed: int = 0) -> Path:
    """Write ``root/{wav,data/{train,valid},stats,token_list.txt}``; returns ``root``."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed")
    sentences = make_sentences(n_train + n_valid, seed)
    chars = sorted({c for s in sentences for c in s.replace(" ", "")})
    tokens = ["<blank>", "<unk>", "<space>", *chars, "<sos/eos>"]
    (root / "token_list.txt").write_text("\n".join(tokens) + "\n")
    (root / "wav").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for split, sents in (("train", sentences[:n_train]), ("valid", sentences[n_train:])):
        ddir = root / "data" / split
        sdir = root / "stats" / split
        ddir.mkdir(parents=True, exist_ok=True)
        sdir.mkdir(parents=True, exist_ok=True)
        wav_scp, text, speech_shape, text_shape = [], [], [], []
        for i, s in enumerate(sents):
            utt = f"{split}{i:03d}"
            path = root / "wav" / f"{utt}.wav"
            n = synthesize(s, path, rng.choice(VOICES), rng.choice([150, 175, 200]))
            wav_scp.append(f"{utt} {path}")
            text.append(f"{utt} {s}")
            speech_shape.append(f"{utt} {n}")
            text_shape.append(f"{utt} {len(s)},{len(tokens)}")
        (ddir / "wav.scp").write_text("\n".join(wav_scp) + "\n")
        (ddir / "text").write_text("\n".join(text) + "\n")
        (sdir / "speech_shape").write_text("\n".join(speech_shape) + "\n")
        (sdir / "text_shape.char").write_text("\n".join(text_shape) + "\n")
    return root


TINY_CONFORMER = """\
frontend_conf: {n_fft: 512, hop_length: 128, win_length: 400}
normalize: utterance_mvn
encoder: conformer
encoder_conf:
    output_size: 32
    attention_heads: 2
    linear_units: 64
    num_blocks: 2
    dropout_rate: 0.0
    positional_dropout_rate: 0.0
    attention_dropout_rate: 0.0
    input_layer: conv2d
    macaron_style: true
    rel_pos_type: latest
    pos_enc_layer_type: rel_pos
    selfattention_layer_type: rel_selfattn
    use_cnn_module: true
    cnn_module_kernel: 7
decoder: transformer
decoder_conf:
    attention_heads: 2
    linear_units: 64
    num_blocks: 1
    dropout_rate: 0.0
    positional_dropout_rate: 0.0
    self_attention_dropout_rate: 0.0
    src_attention_dropout_rate: 0.0
model_conf:
    ctc_weight: 0.3
    lsm_weight: 0.1
    length_normalized_loss: false
optim: adam
optim_conf: {lr: 0.002}
scheduler: warmuplr
scheduler_conf: {warmup_steps: 20}
batch_type: numel
batch_bins: 150000
num_workers: 0
accum_grad: 1
"""


def train_command(corpus: Path, exp: Path, config: Path, *extra: str) -> list[str]:
    """Command line of ``espnet_ddp.bin.asr_train`` on the tiny corpus."""
    return [
        "--use_preprocessor", "true",
        "--token_type", "char",
        "--token_list", str(corpus / "token_list.txt"),
        "--train_data_path_and_name_and_type", f"{corpus}/data/train/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type", f"{corpus}/data/train/text,text,text",
        "--train_shape_file", f"{corpus}/stats/train/speech_shape",
        "--train_shape_file", f"{corpus}/stats/train/text_shape.char",
        "--valid_data_path_and_name_and_type", f"{corpus}/data/valid/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", f"{corpus}/data/valid/text,text,text",
        "--valid_shape_file", f"{corpus}/stats/valid/speech_shape",
        "--valid_shape_file", f"{corpus}/stats/valid/text_shape.char",
        "--output_dir", str(exp),
        "--config", str(config),
        "--ngpu", "0",
        "--seed", "0",
        "--use_matplotlib", "false",
        "--num_att_plot", "0",
        *extra,
    ]
