#!/usr/bin/env python3
"""GPU benchmark: a LibriSpeech-100-sized conformer, full data against pruned and dropped runs.

Synthesizes a corpus (espeak-ng + flite, test voices and sentences held out of training), trains
the full-data baseline until its validation accuracy plateaus (adding epochs while it still
climbs), then trains every other variant for the same number of epochs, decodes the held-out test
sets with stock ``espnet2.bin.asr_inference``, scores them with ``espnet_ddp.tools.score_asr`` and
writes ``bench/gpu/RESULTS.md`` (plus ``results.json`` under the output folder).

Pruned and dropped runs use ``--data_pruning_conf lr_trajectory=epoch``: the step-based LR
schedule advances per epoch as on full data, so the comparison at matched epochs is not skewed by
a lower learning rate. Run it through ``run.sh`` (which installs what an offline machine lacks).

    bash bench/gpu/run.sh            # GPU: about 14 h of speech, 30+ epochs per variant
    bash bench/gpu/run.sh --small    # CPU smoke run: tiny corpus and model, about 10 minutes
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import (  # noqa: E402
    BASELINE,
    BENCH,
    REPO,
    Corpus,
    build_corpus,
    chunk_drop,
    easy2hard,
    env_for_children,
    epoch_stats,
    epoch_walls,
    load_records,
    log,
    median,
    run_logged,
)

CONFIG = """\
# Conformer encoder ({blocks}x{dim}), transformer decoder ({dec_blocks}x{dec_ffn}), CTC/attention.
frontend_conf: {{n_fft: 512, hop_length: 160, win_length: 400}}
specaug: specaug
specaug_conf:
    apply_time_warp: true
    time_warp_window: 5
    time_warp_mode: bicubic
    apply_freq_mask: true
    freq_mask_width_range: [0, 27]
    num_freq_mask: 2
    apply_time_mask: true
    time_mask_width_ratio_range: [0.0, 0.05]
    num_time_mask: 5
encoder: conformer
encoder_conf:
    output_size: {dim}
    attention_heads: {heads}
    linear_units: {ffn}
    num_blocks: {blocks}
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    attention_dropout_rate: 0.1
    input_layer: conv2d
    normalize_before: true
    macaron_style: true
    rel_pos_type: latest
    pos_enc_layer_type: rel_pos
    selfattention_layer_type: rel_selfattn
    activation_type: swish
    use_cnn_module: true
    cnn_module_kernel: {kernel}
decoder: transformer
decoder_conf:
    attention_heads: {heads}
    linear_units: {dec_ffn}
    num_blocks: {dec_blocks}
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    self_attention_dropout_rate: 0.1
    src_attention_dropout_rate: 0.1
model_conf:
    ctc_weight: 0.3
    lsm_weight: 0.1
    length_normalized_loss: false
optim: adam
optim_conf: {{lr: {lr}, weight_decay: 0.000001}}
scheduler: warmuplr
scheduler_conf: {{warmup_steps: {warmup}}}
batch_type: numel
batch_bins: {batch_bins}
accum_grad: 1
grad_clip: 5
num_workers: {workers}
max_cache_size: 0
best_model_criterion:
-   - valid
    - acc
    - max
keep_nbest_models: {nbest}
"""


@dataclasses.dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run."""

    num_train: int
    num_dev: int
    num_test: int  # per test set
    epochs: int  # initial budget; grown while the baseline still improves
    max_epochs: int
    extend_by: int
    plateau_window: int
    plateau_delta: float  # valid acc gain over the window below which it counts as a plateau
    dim: int
    heads: int
    ffn: int
    blocks: int
    kernel: int
    dec_blocks: int
    dec_ffn: int
    lr: float
    warmup: int
    batch_bins: int
    workers: int
    nbest: int
    beam: int
    anneal_epochs: int
    maxlenratio: float = 0.0  # 0: hypotheses end by themselves (an untrained model never does)

    def config(self) -> str:
        return CONFIG.format(**dataclasses.asdict(self))


# About 14 h of speech (2.7 s per utterance), the LibriSpeech-100 conformer, 16e6 numel bins.
FULL = Plan(
    num_train=19000, num_dev=500, num_test=300, epochs=30, max_epochs=50, extend_by=5,
    plateau_window=3, plateau_delta=0.002, dim=256, heads=4, ffn=1024, blocks=12, kernel=31,
    dec_blocks=6, dec_ffn=2048, lr=0.002, warmup=600, batch_bins=16_000_000, workers=8,
    nbest=10, beam=10, anneal_epochs=5,
)  # fmt: skip
SMALL = Plan(
    num_train=60, num_dev=10, num_test=6, epochs=3, max_epochs=3, extend_by=0,
    plateau_window=2, plateau_delta=0.002, dim=32, heads=2, ffn=64, blocks=1, kernel=7,
    dec_blocks=1, dec_ffn=64, lr=0.002, warmup=20, batch_bins=150_000, workers=0,
    nbest=1, beam=2, anneal_epochs=1,
)  # fmt: skip

CHUNK_SWEEP = (5, 10, 40, 80)  # 20 ms is variant c itself
LR = "lr_trajectory=epoch"


def variants(plan: Plan) -> dict[str, tuple[str, list[str]]]:
    """Name -> (description, training options), the baseline first."""
    no_pruning = ["--data_pruning", "none", "--data_pruning_conf", LR]
    out = {
        "a_full": ("(a) full data", BASELINE),
        "b_e2h": ("(b) easy2hard keep 0.7", [*easy2hard(0.7, LR), "--time_drop", "none"]),
        "c_drop20": ("(c) chunk drop 0.3, 20 ms", [*no_pruning, *chunk_drop(0.3, 20)]),
        "d_e2h_drop20": (
            "(d) easy2hard 0.7 + chunk drop 0.3, 20 ms",
            [*easy2hard(0.7, LR), *chunk_drop(0.3, 20)],
        ),
        "e_random_drop20": (
            "(e) random 0.7 + chunk drop 0.3, 20 ms",
            [
                "--data_pruning",
                "random",
                "--data_pruning_conf",
                "keep_ratio=0.7",
                "--data_pruning_conf",
                LR,
                *chunk_drop(0.3, 20),
            ],
        ),  # fmt: skip
    }
    for ms in CHUNK_SWEEP:
        out[f"c_drop{ms}"] = (f"(c) chunk drop 0.3, {ms} ms", [*no_pruning, *chunk_drop(0.3, ms)])
    out["d_anneal"] = (
        f"(d) + full-length audio in the last {plan.anneal_epochs} epochs",
        [*easy2hard(0.7, LR), *chunk_drop(0.3, 20, f"anneal_epochs={plan.anneal_epochs}")],
    )
    warm, anneal = max(1, plan.epochs // 4), max(1, plan.epochs // 6)
    out["d_warm_anneal"] = (
        f"(d) + full-length audio in the first {warm} and last {anneal} epochs",
        [*easy2hard(0.7, LR),
         *chunk_drop(0.3, 20, f"warmup_epochs={warm},anneal_epochs={anneal}")],
    )  # fmt: skip
    return out


# -- GPU utilization ------------------------------------------------------------------------------


SMI_TIME = "%Y/%m/%d %H:%M:%S.%f"


class GpuSampler:
    """Samples ``nvidia-smi`` every ``period_ms`` while a training runs (no-op without it).

    What it measures: ``utilization.gpu``, the percentage of the driver's last sample period
    (between 1/6 s and 1 s, driver-defined) during which at least one kernel was running on the
    GPU. It is a "some kernel was active" figure, not SM occupancy or achieved FLOPs: one small
    kernel at a time counts as 100%. Each row also carries the sample's wall-clock timestamp, so
    :func:`busy_seconds` can integrate it over one epoch's training loop.
    """

    def __init__(self, path: Path, period_ms: int = 500) -> None:
        self.path = path
        self.proc: subprocess.Popen | None = None
        if shutil.which("nvidia-smi"):
            query = "--query-gpu=timestamp,utilization.gpu,memory.used"
            self.proc = subprocess.Popen(
                ["nvidia-smi", query, "--format=csv,noheader,nounits", "-lms", str(period_ms)],
                stdout=path.open("w"),
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> dict | None:
        """Mean/median utilization (%) and peak memory (MiB) of GPU 0, or None."""
        if self.proc is None:
            return None
        self.proc.terminate()
        self.proc.wait()
        samples = read_smi_samples(self.path)
        if not samples:
            return None
        util = [u for _, u, _ in samples]
        return {
            "util_mean": statistics.fmean(util),
            "util_median": statistics.median(util),
            "mem_max_mib": max(m for _, _, m in samples),
            "samples": len(util),
        }


def read_smi_samples(path: Path) -> list[tuple[datetime.datetime, float, float]]:
    """(timestamp, utilization %, memory MiB) rows of GPU 0 from a sampler's CSV file."""
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        try:
            stamp = datetime.datetime.strptime(parts[0], SMI_TIME)
            out.append((stamp, float(parts[1]), float(parts[2])))
        except ValueError:
            continue
    return out


def busy_seconds(
    samples: list[tuple[datetime.datetime, float, float]],
    start: datetime.datetime,
    end: datetime.datetime,
) -> float | None:
    """Seconds in [start, end] with a kernel running: sum of utilization x sample interval.

    Each sample's utilization is held from its timestamp to the next sample's (clipped to the
    window). None when no sample falls in the window.

    >>> t = [datetime.datetime(2026, 1, 1, 0, 0, s) for s in range(5)]
    >>> rows = [(t[0], 100.0, 0.0), (t[1], 50.0, 0.0), (t[2], 0.0, 0.0), (t[3], 20.0, 0.0)]
    >>> busy_seconds(rows, t[0], t[4])  # 1 + 0.5 + 0 + 0.2 (last one held to the window's end)
    1.7
    """
    total, inside = 0.0, False
    for i, (stamp, util, _) in enumerate(samples):
        nxt = samples[i + 1][0] if i + 1 < len(samples) else end
        lo, hi = max(stamp, start), min(nxt, end)
        if hi > lo:
            inside = inside or start <= stamp <= end
            total += util / 100.0 * (hi - lo).total_seconds()
    return round(total, 6) if inside else None


# -- training -------------------------------------------------------------------------------------


def train_command(
    corpus: Corpus, config: Path, exp: Path, extra: list[str], max_epoch: int, ngpu: int
) -> list[str]:
    """The ``espnet_ddp.bin.asr_train`` command line of one variant (AMP on a GPU)."""
    cmd = [sys.executable, "-m", "espnet_ddp.bin.asr_train", *corpus.data_args()]
    cmd += [*corpus.normalize_args(), "--config", str(config)]
    cmd += ["--output_dir", str(exp), "--ngpu", str(ngpu), "--seed", "0"]
    cmd += ["--max_epoch", str(max_epoch), "--resume", "true", "--use_tensorboard", "false"]
    cmd += ["--use_matplotlib", "false", "--num_att_plot", "0"]
    if ngpu:
        cmd += ["--use_amp", "true"]
    return cmd + extra


def train(
    corpus: Corpus,
    out: Path,
    name: str,
    extra: list[str],
    max_epoch: int,
    ngpu: int,
    smi_period_ms: int = 500,
) -> dict:
    """Train (or continue) one variant up to ``max_epoch``; returns timing and GPU figures."""
    exp = out / "exp" / name
    exp.mkdir(parents=True, exist_ok=True)
    cmd = train_command(corpus, out / "config.yaml", exp, extra, max_epoch, ngpu)
    n = len(list(exp.glob("train*.log")))
    sampler = GpuSampler(exp / f"nvidia_smi.{n}.csv", smi_period_ms)
    try:
        seconds = run_logged(cmd, exp / f"train.{n}.log", env_for_children())
    finally:
        gpu = sampler.stop()
    (exp / f"command.{n}.txt").write_text(" ".join(cmd) + "\n")
    return {"process_seconds": seconds, "gpu": gpu, "command": cmd, "smi": f"nvidia_smi.{n}.csv"}


def valid_acc(exp: Path) -> dict[int, float]:
    stats = epoch_stats(exp)
    return {e: s["valid"]["acc"] for e, s in stats.items() if "acc" in s.get("valid", {})}


def plateaued(acc: dict[int, float], window: int, delta: float) -> bool:
    """True when the best valid accuracy of the last ``window`` epochs gained < ``delta``."""
    epochs = sorted(acc)
    if len(epochs) <= window:
        return False
    before = max(acc[e] for e in epochs[:-window])
    return max(acc[e] for e in epochs[-window:]) - before < delta


# -- decoding and scoring -------------------------------------------------------------------------


def merge_test_sets(corpus: Corpus, out: Path) -> Path:
    """One data directory holding all test sets, so each model is decoded in one pass."""
    from espnet_ddp.tools.datadir import DataDir

    merged = DataDir()
    for name in corpus.test_sets:
        d = DataDir.read(corpus.data / name)
        merged.wav.update(d.wav)
        merged.text.update(d.text)
        merged.utt2spk.update(d.utt2spk)
    merged.write(out / "data" / "test_all")
    return out / "data" / "test_all"


def decode(out: Path, names: list[str], test_dir: Path, plan: Plan, ngpu: int, nj: int) -> None:
    """Decode every model on ``test_dir`` with stock asr_inference, ``nj`` processes in parallel."""
    keys = sorted(line.split()[0] for line in (test_dir / "wav.scp").open())
    parts = [keys[j::nj] for j in range(nj)]
    procs = []
    for j, part in enumerate(parts):
        key_file = out / "decode_keys" / f"keys.{j}"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text("".join(f"{k} {k}\n" for k in part))
        jobs = []
        for name in names:
            exp = out / "exp" / name
            model = exp / "valid.acc.ave.pth"
            if not model.exists():
                model = exp / "valid.acc.best.pth"
            jobs.append(
                [
                    "--asr_train_config", str(exp / "config.yaml"),
                    "--asr_model_file", str(model),
                    "--data_path_and_name_and_type", f"{test_dir}/wav.scp,speech,sound",
                    "--key_file", str(key_file),
                    "--output_dir", str(exp / "decode" / f"split{j}"),
                    "--ngpu", str(ngpu), "--batch_size", "1", "--beam_size", str(plan.beam),
                    "--ctc_weight", "0.3", "--lm_weight", "0.0", "--penalty", "0.0",
                    "--maxlenratio", str(plan.maxlenratio), "--minlenratio", "0.0", "--nbest", "1",
                ]
            )  # fmt: skip
        job_file = out / "decode_keys" / f"jobs.{j}.json"
        job_file.write_text(json.dumps(jobs))
        log_file = (out / "decode_keys" / f"decode.{j}.log").open("w")
        cmd = [sys.executable, str(Path(__file__).with_name("decode_many.py")), str(job_file)]
        procs.append((subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                       env=env_for_children()), log_file))  # fmt: skip
    for proc, f in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"decoding failed: see {f.name}")
        f.close()
    for name in names:
        hyp: dict[str, str] = {}
        for j in range(nj):
            text = out / "exp" / name / "decode" / f"split{j}" / "1best_recog" / "text"
            if text.exists():
                for line in text.open():
                    utt, _, words = line.rstrip("\n").partition(" ")
                    hyp[utt] = words
        from espnet_ddp.tools.datadir import write_kv

        write_kv(out / "exp" / name / "decode" / "text", hyp)


def score(corpus: Corpus, out: Path, name: str) -> dict[str, dict[str, float]]:
    """WER and CER (%) of one model on every test set."""
    from espnet_ddp.tools import score_asr
    from espnet_ddp.tools.datadir import read_kv, write_kv
    from espnet_ddp.tools.write_results_md import parse_result

    hyp_all = read_kv(out / "exp" / name / "decode" / "text")
    results: dict[str, dict[str, float]] = {}
    for test in corpus.test_sets:
        ref = corpus.data / test / "text"
        sdir = out / "exp" / name / "decode" / test
        sdir.mkdir(parents=True, exist_ok=True)
        write_kv(sdir / "text", {u: h for u, h in hyp_all.items() if u in read_kv(ref)})
        results[test] = {}
        for metric in ("wer", "cer"):
            score_asr.main(
                ["--metric", metric, str(ref), str(sdir / "text"),
                 str(corpus.data / test / "utt2spk"), str(sdir / f"score_{metric}")]
            )  # fmt: skip
            row = parse_result(sdir / f"score_{metric}" / "result.txt")
            results[test][metric] = float(row[6]) if row else float("nan")
    return results


# -- report ---------------------------------------------------------------------------------------


def timing(exp: Path, first_compared: int = 2) -> dict:
    """Median train-loop seconds per epoch (after epoch 1), summed wall, steps, audio fed."""
    recs = load_records(exp)
    walls = epoch_walls(exp)
    later = [r for r in recs if r["epoch"] >= first_compared] or recs
    return {
        "epochs": len(recs),
        "median_train_seconds": median([r["train_seconds"] for r in later]),
        "total_train_seconds": sum(r["train_seconds"] for r in recs),
        "total_wall_seconds": sum(walls.values()),
        "median_steps": median([r["optimizer_steps"] for r in later]),
        "fed_hours": sum(r["fed_seconds"] for r in recs) / 3600,
        "plugin_share": median([r["plugin_seconds"] / r["train_seconds"] for r in later]),
    }


def environment(ngpu: int) -> dict[str, str]:
    from importlib import metadata

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "absent"

    gpu = "none (CPU)"
    if ngpu and shutil.which("nvidia-smi"):
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").open()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "gpu": gpu,
        "cpu": f"{cpu} x {os.cpu_count()} (load average {os.getloadavg()[0]:.1f} at the end)",
        "python": platform.python_version(),
        "torch": version("torch"),
        "torchaudio": version("torchaudio"),
        "espnet": version("espnet"),
        "espnet_ddp commit": commit or "unknown",
        "espeak-ng": subprocess.run(
            ["espeak-ng", "--version"], capture_output=True, text=True
        ).stdout.strip(),  # fmt: skip
    }


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def markdown(report: dict, small: bool) -> str:
    env, plan, rows = report["environment"], report["plan"], report["variants"]
    tests = report["test_sets"]
    test_list = ", ".join(f"{t} ({plan['num_test']})" for t in tests)
    base = rows["a_full"]
    title = "# GPU benchmark results"
    lines = [title, ""]
    if small:
        lines += [
            "> **CPU `--small` figures.** A smoke run of the whole pipeline on a tiny corpus and "
            "model, on the CPU: the speed-ups and error rates below say nothing about the GPU "
            "targets; rerun `bash bench/gpu/run.sh` on a GPU machine for those.",
            "",
        ]
    lines += [
        f"Date: {env['date']}. Machine: GPU {env['gpu']}; CPU {env['cpu']}.",
        f"Versions: Python {env['python']}, torch {env['torch']}, torchaudio "
        f"{env['torchaudio']}, espnet {env['espnet']}, espnet_ddp {env['espnet_ddp commit']}, "
        f"{env['espeak-ng']}.",
        "",
        f"Command: `{report['command']}`. Corpus: {report['corpus_hours']:.2f} h of training "
        f"speech ({plan['num_train']} utterances), {plan['num_dev']} dev, test sets "
        f"{test_list} with voices and sentences "
        "held out of training.",
        f"Model: conformer {plan['blocks']}x{plan['dim']} (FFN {plan['ffn']}, kernel "
        f"{plan['kernel']}), transformer decoder {plan['dec_blocks']}x{plan['dec_ffn']}, CTC "
        f"weight 0.3; {report['params_m']} M parameters. Adam {plan['lr']}, warm-up "
        f"{plan['warmup']} steps, numel batches of {plan['batch_bins']:,} bins, accum_grad 1"
        + (", AMP" if report["ngpu"] else "")
        + ".",
        f"Budget: {report['max_epoch']} epochs for every run (baseline valid accuracy "
        f"{'reached a plateau' if report['baseline_plateau'] else 'had NOT reached a plateau'}"
        f": gain < {plan['plateau_delta']} over the last {plan['plateau_window']} epochs). "
        "Pruned and dropped runs use `lr_trajectory=epoch` (LR schedule per epoch as on full "
        "data). Decoding: stock `espnet2.bin.asr_inference`, beam "
        f"{plan['beam']}, CTC weight 0.3, no LM, model `valid.acc.ave.pth` "
        f"(best {plan['nbest']} by valid accuracy).",
        "",
        "Median epoch = median train-loop seconds (the plugin's `train_seconds`) of epochs 2+; "
        "total = sum of epoch wall times from `train.log` (train, validation, checkpointing; "
        "start-up excluded); speed-up against (a) on total.",
        "",
    ]
    head = "| run | median epoch (s) | total wall (s) | speed-up | steps/epoch | audio fed (h) "
    head += "| valid acc | " + " | ".join(f"WER/CER {t} (%)" for t in tests) + " | GPU util |"
    lines += [head, "|" + "---|" * (8 + len(tests))]
    for row in rows.values():
        t = row["timing"]
        speed = base["timing"]["total_wall_seconds"] / max(t["total_wall_seconds"], 1e-9)
        errs = " | ".join(
            f"{row['scores'][x]['wer']:.1f} / {row['scores'][x]['cer']:.1f}" for x in tests
        )
        gpu = row.get("gpu")
        util = f"{gpu['util_mean']:.0f}%" if gpu else "n/a"
        lines.append(
            f"| {row['label']} | {_fmt(t['median_train_seconds'], '.2f')} "
            f"| {t['total_wall_seconds']:.1f} | {speed:.2f}x | {_fmt(t['median_steps'], '.0f')} "
            f"| {t['fed_hours']:.3f} | {_fmt(row['valid_acc'], '.3f')} | {errs} | {util} |"
        )
    d, a = rows.get("d_e2h_drop20"), base
    if d:
        speed = a["timing"]["total_wall_seconds"] / max(d["timing"]["total_wall_seconds"], 1e-9)
        rel = [
            (d["scores"][x]["wer"] - a["scores"][x]["wer"]) / max(a["scores"][x]["wer"], 1e-9)
            for x in tests
        ]
        ok = speed >= 1.8 and all(r <= 0.05 for r in rel)
        lines += [
            "",
            f"Target (d) >= 1.8x faster than (a) with WER within 5% relative: speed-up "
            f"{speed:.2f}x, WER change "
            + ", ".join(f"{t} {100 * r:+.0f}%" for t, r in zip(tests, rel))
            + f" -> {'met' if ok else 'NOT met'}.",
        ]
    return "\n".join(lines) + "\n"


def count_params(out: Path) -> float:
    """Millions of parameters of the baseline's saved model."""
    import torch

    exp = out / "exp" / "a_full"
    model = next(iter(sorted(exp.glob("*epoch.pth"))), None)
    if model is None:
        return float("nan")
    state = torch.load(model, map_location="cpu")
    return round(sum(v.numel() for v in state.values()) / 1e6, 2)


def add_setup_options(
    parser: argparse.ArgumentParser, out_default: str, nj_help: str = "synthesis/statistics jobs"
) -> None:
    """The options :func:`set_up` reads: ``--out`` (in ``bench/gpu/out``), ``--ngpu``, ``--nj``."""
    parser.add_argument(
        "--out", type=Path, default=None, help=f"default: bench/gpu/out/{out_default}"
    )
    parser.add_argument("--ngpu", type=int, default=None, help="default: 1 with CUDA, else 0")
    parser.add_argument("--nj", type=int, default=None, help=nj_help)


class Setup(NamedTuple):
    """What every GPU benchmark's ``main()`` starts from (see :func:`set_up`)."""

    ngpu: int
    nj: int
    corpus: Corpus
    started: float  # time.perf_counter() just before the corpus was built


def set_up(plan: Plan, out: Path, ngpu: int | None = None, nj: int | None = None) -> Setup:
    """Resolve ``--ngpu`` and ``--nj``; write ``out/config.yaml``; build the corpus ``out/corpus``.

    ``ngpu`` None: 1 with CUDA, else 0; ``nj`` None or 0: the CPU count. The corpus has
    ``plan``'s sizes (``num_test`` per test set; none when 0) and is reused when already built.
    """
    if ngpu is None:
        import torch

        ngpu = 1 if torch.cuda.is_available() else 0
    nj = nj or max(1, os.cpu_count() or 2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(plan.config())
    started = time.perf_counter()
    corpus = build_corpus(
        out / "corpus", num_train=plan.num_train, num_dev=plan.num_dev, num_test=plan.num_test,
        nj=nj, config=out / "config.yaml",
    )  # fmt: skip
    log(f"corpus: {corpus.hours():.2f} h of training speech")
    return Setup(ngpu, nj, corpus, started)


def environment_line(env: dict[str, str]) -> str:
    """Date, machine and versions, one Markdown line (the quick and sweep reports)."""
    return (
        f"Date: {env['date']}. Machine: GPU {env['gpu']}; CPU {env['cpu']}. Versions: Python "
        f"{env['python']}, torch {env['torch']}, espnet {env['espnet']}, espnet_ddp "
        f"{env['espnet_ddp commit']}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny CPU run of the whole pipeline")
    parser.add_argument("--dry", action="store_true", help="print the plan and variants only")
    add_setup_options(parser, "<size>")
    parser.add_argument("--decode_nj", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="variants to run (a_full first)")
    parser.add_argument("--results_md", type=Path, default=BENCH / "gpu" / "RESULTS.md")
    args = parser.parse_args(argv)

    plan = SMALL if args.small else FULL
    todo = variants(plan)
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only or k == "a_full"}
    if args.dry:
        print(json.dumps({"plan": dataclasses.asdict(plan), "variants": todo}, indent=1))
        return 0
    out = args.out or BENCH / "gpu" / "out" / ("small" if args.small else "full")
    ngpu, _, corpus, started = set_up(plan, out, args.ngpu, args.nj)
    decode_nj = args.decode_nj or (4 if ngpu else 1)

    results: dict[str, dict] = {}
    # (a) first, until its valid accuracy plateaus: that fixes the budget of every run.
    max_epoch = plan.epochs
    base_exp = out / "exp" / "a_full"
    runs = [train(corpus, out, "a_full", BASELINE, max_epoch, ngpu)]
    while (
        not plateaued(valid_acc(base_exp), plan.plateau_window, plan.plateau_delta)
        and max_epoch + plan.extend_by <= plan.max_epochs
        and plan.extend_by > 0
    ):
        max_epoch += plan.extend_by
        log(f"baseline valid accuracy still rising: extending to {max_epoch} epochs")
        runs.append(train(corpus, out, "a_full", BASELINE, max_epoch, ngpu))
    results["a_full"] = {"runs": runs}
    for name, (label, extra) in todo.items():
        if name == "a_full":
            continue
        log(f"training {name}: {label}")
        results[name] = {"runs": [train(corpus, out, name, extra, max_epoch, ngpu)]}
    log("decoding the held-out test sets")
    test_dir = merge_test_sets(corpus, out)
    decode(out, list(todo), test_dir, plan, ngpu, decode_nj)

    rows = {}
    for name, (label, _) in todo.items():
        exp = out / "exp" / name
        gpus = [r["gpu"] for r in results[name]["runs"] if r["gpu"]]
        acc = valid_acc(exp)
        rows[name] = {
            "label": label,
            "timing": timing(exp),
            "scores": score(corpus, out, name),
            "valid_acc": acc.get(max(acc)) if acc else None,
            "valid_acc_per_epoch": acc,
            "gpu": {"util_mean": statistics.fmean(g["util_mean"] for g in gpus)} if gpus else None,
            "process_seconds": sum(r["process_seconds"] for r in results[name]["runs"]),
            "commands": [" ".join(r["command"]) for r in results[name]["runs"]],
        }
    report = {
        "command": "bash bench/gpu/run.sh" + (" --small" if args.small else ""),
        "environment": environment(ngpu),
        "plan": dataclasses.asdict(plan),
        "ngpu": ngpu,
        "max_epoch": max_epoch,
        "baseline_plateau": plateaued(
            valid_acc(base_exp), plan.plateau_window, plan.plateau_delta
        ),  # fmt: skip
        "corpus_hours": corpus.hours(),
        "test_sets": list(corpus.test_sets),
        "params_m": count_params(out),
        "variants": rows,
        "benchmark_seconds": time.perf_counter() - started,
    }
    (out / "results.json").write_text(json.dumps(report, indent=1))
    md = markdown(report, args.small)
    md += f"\nWhole benchmark: {report['benchmark_seconds'] / 60:.1f} min. Per-run commands and "
    md += f"figures: `{out.relative_to(REPO) if out.is_relative_to(REPO) else out}/results.json`.\n"
    args.results_md.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
