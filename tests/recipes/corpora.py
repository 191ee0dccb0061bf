"""Tiny LibriSpeech- and LRS3-shaped corpora of espeak-ng speech, and recipes staged in a tmp dir.

The trees have the real layouts the recipes read (``LibriSpeech/<subset>/<spk>/<chapter>/`` with
``<spk>-<chapter>.trans.txt`` and ``<utt>.flac``; LRS3 ``<split>/<id>/<n>.mp4`` with ``<n>.txt``),
a handful of utterances each, so a recipe's stages 1-13 run in a couple of minutes on 2 CPUs.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
import soxr
from plugin.corpus import speak

from espnet_ddp.tools.sentences import make_sentences

REPO = Path(__file__).resolve().parents[2]
VOICES = ["en-us", "en", "en+f3", "en+m3", "en-us+f2", "en+m7"]

# LibriSpeech subsets: (speakers, chapters per speaker, utterances per chapter)
LIBRISPEECH_SUBSETS = {
    "train-clean-100": (3, 2, 4),
    "dev-clean": (2, 1, 2),
    "dev-other": (2, 1, 2),
    "test-clean": (2, 1, 2),
    "test-other": (2, 1, 2),
}
# LRS3 splits: (speaker ids, clips per speaker)
LRS3_SPLITS = {
    "trainval": (
        ["0Fi83BHQsMA", "1a-Xk9Qp2Zc", "3bTq_7LmN0e", "5cVw8RsYt1f", "7dKx9_UvW2g", "9eLy0VwXz3h"],
        4,
    ),
    "test": (["A0mB1nC2oD3", "B4pE-5qF6rG"], 3),
}


def missing_tools(*tools: str) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


def write_flac(text: str, voice: str, speed: int, path: Path, fs: int = 16000) -> None:
    """Speak ``text`` into a 16-bit flac at ``fs``."""
    wav, rate = speak(text, voice, speed, path.with_suffix(".raw.wav"))
    sf.write(path, soxr.resample(wav, rate, fs), fs, subtype="PCM_16", format="FLAC")


def video_codec() -> list[str]:
    """ffmpeg arguments of a video encoder this ffmpeg has (libx264, else mpeg4)."""
    encoders = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True
    ).stdout
    if re.search(r"^\s*V\S*\s+libx264\s", encoders, re.M):
        return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    return ["-c:v", "mpeg4"]


def write_mp4(text: str, voice: str, speed: int, path: Path, codec: list[str], fs: int = 16000):
    """An LRS3-like clip: a 32x32 black video and the spoken ``text`` as AAC audio at ``fs``."""
    raw = path.with_suffix(".raw.wav")
    speak_cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text.lower()]
    subprocess.run(speak_cmd, check=True, capture_output=True)
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    cmd += ["-f", "lavfi", "-i", "color=c=black:s=32x32:r=25", "-i", str(raw), "-shortest"]
    cmd += [*codec, "-c:a", "aac", "-ac", "1", "-ar", str(fs), str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    raw.unlink()


def parallel(jobs) -> None:
    """Run zero-argument callables on 2 threads (the subprocesses do the work)."""
    with ThreadPoolExecutor(2) as pool:
        for f in [pool.submit(job) for job in jobs]:
            f.result()


@dataclass
class LibriSpeechTree:
    root: Path  # holds LibriSpeech/
    utts: dict[str, list[str]]  # subset -> utterance ids
    text: dict[str, str]  # utterance id -> transcript

    def flac(self, utt: str) -> Path:
        spk, chapter, _ = utt.split("-")
        subset = next(s for s, us in self.utts.items() if utt in us)
        return self.root / "LibriSpeech" / subset / spk / chapter / f"{utt}.flac"

    def trans(self, utt: str) -> Path:
        spk, chapter, _ = utt.split("-")
        return self.flac(utt).parent / f"{spk}-{chapter}.trans.txt"


def build_librispeech(root: Path, seed: int = 0) -> LibriSpeechTree:
    """``root/LibriSpeech/<subset>/...`` for the subsets of LIBRISPEECH_SUBSETS."""
    total = sum(s * c * u for s, c, u in LIBRISPEECH_SUBSETS.values())
    sentences = iter(make_sentences(total, seed=seed))
    utts: dict[str, list[str]] = {}
    text: dict[str, str] = {}
    jobs = []
    spk_id = 100
    for k, (subset, (n_spk, n_chap, n_utt)) in enumerate(LIBRISPEECH_SUBSETS.items()):
        utts[subset] = []
        for s in range(n_spk):
            spk_id += 7
            voice, speed = VOICES[(k + s) % len(VOICES)], (150, 170, 190)[s % 3]
            for c in range(n_chap):
                chapter = str(1000 + 13 * spk_id + c)
                d = root / "LibriSpeech" / subset / str(spk_id) / chapter
                d.mkdir(parents=True)
                lines = []
                for i in range(n_utt):
                    utt = f"{spk_id}-{chapter}-{i:04d}"
                    words = next(sentences)
                    utts[subset].append(utt)
                    text[utt] = words
                    lines.append(f"{utt} {words}\n")
                    path = d / f"{utt}.flac"
                    jobs.append(lambda w=words, v=voice, sp=speed, p=path: write_flac(w, v, sp, p))
                (d / f"{spk_id}-{chapter}.trans.txt").write_text("".join(lines))
    parallel(jobs)
    return LibriSpeechTree(root, utts, text)


@dataclass
class Lrs3Tree:
    root: Path  # holds trainval/ and test/
    utts: dict[str, list[str]]  # split -> utterance ids (<id>_<n>, as espnet_ddp.tools.lrs3_data)
    text: dict[str, str]

    def clip(self, utt: str) -> Path:
        """The clip's path without suffix (``.mp4`` / ``.txt``)."""
        spk, n = utt.rsplit("_", 1)
        split = next(s for s, us in self.utts.items() if utt in us)
        return self.root / split / spk / n


def build_lrs3(root: Path, seed: int = 1) -> Lrs3Tree:
    """``root/{trainval,test}/<id>/<n>.{mp4,txt}`` for the speakers of LRS3_SPLITS."""
    total = sum(len(spks) * n for spks, n in LRS3_SPLITS.values())
    sentences = iter(make_sentences(total, seed=seed))
    codec = video_codec()
    utts: dict[str, list[str]] = {}
    text: dict[str, str] = {}
    jobs = []
    for k, (split, (speakers, n_clips)) in enumerate(LRS3_SPLITS.items()):
        utts[split] = []
        for s, spk in enumerate(speakers):
            voice, speed = VOICES[(k + s) % len(VOICES)], (150, 170, 190)[s % 3]
            (root / split / spk).mkdir(parents=True)
            for i in range(n_clips):
                n = f"{i + 1:05d}"
                utt, words = f"{spk}_{n}", next(sentences)
                utts[split].append(utt)
                text[utt] = words
                stem = root / split / spk / n
                stem.with_suffix(".txt").write_text(f"Text:  {words}\nConf:  {3 + i}\n")
                mp4 = stem.with_suffix(".mp4")
                jobs.append(lambda w=words, v=voice, sp=speed, p=mp4: write_mp4(w, v, sp, p, codec))
    parallel(jobs)
    return Lrs3Tree(root, utts, text)


def stage_recipe(tmp: Path, name: str) -> Path:
    """Copy ``egs2/<name>/asr1`` into ``tmp/egs2`` (symlinks kept) beside links to the other
    recipes and the TEMPLATE, so its relative links resolve and its outputs stay in ``tmp``."""
    egs = tmp / "egs2"
    egs.mkdir(parents=True)
    for other in (REPO / "egs2").iterdir():
        if other.name != name:
            (egs / other.name).symlink_to(other, target_is_directory=True)
    dst = egs / name / "asr1"
    outputs = shutil.ignore_patterns("data", "dump", "exp", "downloads")
    shutil.copytree(REPO / "egs2" / name / "asr1", dst, symlinks=True, ignore=outputs)
    return dst


def bare_recipe(d: Path) -> Path:
    """A recipe folder ``d`` with links to the TEMPLATE's asr.sh, path.sh, cmd.sh and utils and a
    ``local/data.sh`` that writes ``stage1_ran`` and fails (so a stage 1 run by mistake shows)."""
    template = REPO / "egs2" / "TEMPLATE" / "asr1"
    (d / "local").mkdir(parents=True)
    for link in ("asr.sh", "path.sh", "cmd.sh", "utils"):
        (d / link).symlink_to(template / link)
    (d / "local" / "data.sh").write_text("#!/usr/bin/env bash\ntouch stage1_ran\nexit 1\n")
    (d / "local" / "data.sh").chmod(0o755)
    return d


def recipe_env(**extra: str) -> dict[str, str]:
    """The environment of a recipe run: this interpreter's bin first on PATH."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


@dataclass
class Run:
    returncode: int
    output: str  # stdout and stderr, interleaved

    def report(self, recipe: Path, lines: int = 60) -> str:
        """The output's tail plus the tail of every log file the driver named."""
        out = ["\n".join(self.output.splitlines()[-lines:])]
        for log in dict.fromkeys(re.findall(r"see the log: (\S+)", self.output)):
            for path in sorted(recipe.glob(log)):
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"---- {path}\n" + "\n".join(tail))
        return "\n".join(out)


def run_recipe(recipe: Path, args: list[str], env: dict[str, str], timeout: int = 900) -> Run:
    proc = subprocess.run(
        ["./run.sh", *args],
        cwd=recipe,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout)


TINY_DECODE = """\
beam_size: 2
ctc_weight: 0.3
penalty: 0.0
maxlenratio: 0.0
minlenratio: 0.0
nbest: 1
"""

PLUGIN_KEYS = """\
max_epoch: 2
num_att_plot: 0
data_pruning: easy2hard
data_pruning_conf:
    keep_ratio: 0.7
    warmup_epochs: 1
time_drop: chunk
time_drop_conf:
    drop_ratio: 0.3
    chunk_ms: 20
"""


def tiny_run_args(conf_dir: Path) -> list[str]:
    """Options of a fast CPU run of a recipe: a tiny model for 2 epochs, char tokens, beam 2."""
    from plugin.corpus import TINY_CONFORMER

    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "train_tiny.yaml").write_text(TINY_CONFORMER + PLUGIN_KEYS)
    (conf_dir / "decode_tiny.yaml").write_text(TINY_DECODE)
    return [
        "--ngpu", "0",
        "--gpu_inference", "false",
        "--nj", "2",
        "--inference_nj", "2",
        "--speed_perturb_factors", "",
        "--token_type", "char",
        "--asr_config", str(conf_dir / "train_tiny.yaml"),
        "--inference_config", str(conf_dir / "decode_tiny.yaml"),
        "--inference_asr_model", "valid.acc.ave.pth",
        "--asr_args", "--use_matplotlib false --seed 0",
    ]  # fmt: skip


def wer_rows(results_md: str) -> dict[str, list[str]]:
    """test set -> its row of the WER table of a RESULTS.md (``decode_dir/set`` -> set)."""
    rows: dict[str, list[str]] = {}
    if "### WER" not in results_md:
        return rows
    section = results_md.split("### WER", 1)[1].split("###", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 9 and "/" in cells[0]:
            rows[cells[0].rsplit("/", 1)[1]] = cells[1:]
    return rows


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def served_directory(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1 (a download-site stand-in); yields the base url."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def local_env(**extra: str) -> dict[str, str]:
    """:func:`recipe_env` without proxies, so downloads reach the local server."""
    env = recipe_env(**extra)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(var, None)
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    return env
