#!/usr/bin/env python3
"""CPU speed-up benchmark: full data against Easy2hard keep 0.7 + 20 ms chunk drop 0.3.

Trains the same small conformer on the same synthesized corpus twice, in rounds: each round trains
every variant for ``--round_epochs`` epochs (``round_train.py`` + ``--resume true``), the order
alternating between rounds, so that machine noise hits both variants alike. Compared are the
epochs after the pruning warm-up (every utterance trains in the warm-up epoch, so it is excluded).

Prints and writes ``bench/out/speedup/speedup.json`` and ``speedup.md``: median train-loop time
per epoch (``train_seconds`` of the plugin's epoch records) and wall time per epoch (train.log:
from one epoch's start to the next, so validation and checkpointing are in), their ratio, steps
per epoch, seconds of audio fed and the plugin's own overhead (``plugin_seconds / train_seconds``).

    python bench/speedup.py            # about 15 minutes on 2 CPU cores
    python bench/speedup.py --small    # a smoke run of about 2 minutes
    python bench/speedup.py --dry      # print the plan and the commands only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BASELINE,
    BENCH,
    Summary,
    chunk_drop,
    easy2hard,
    env_for_children,
    log,
    run_logged,
    shared_cpu_corpus,
    summarize,
)

IDEAL = 1 / (0.7 * 0.7)
PRUNED = [*easy2hard(0.7), *chunk_drop(0.3, 20)]

CONFIG = """\
# Small conformer for the CPU speed-up benchmark (about {params} parameters).
frontend_conf: {{n_fft: 512, hop_length: 160, win_length: 400}}
specaug: null
encoder: conformer
encoder_conf:
    output_size: {dim}
    attention_heads: 4
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
    cnn_module_kernel: 15
decoder: transformer
decoder_conf:
    attention_heads: 4
    linear_units: {ffn}
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
optim_conf: {{lr: 0.002}}
scheduler: warmuplr
scheduler_conf: {{warmup_steps: {warmup}}}
batch_type: numel
batch_bins: {batch_bins}
num_workers: {workers}
accum_grad: 1
max_cache_size: 0
"""


@dataclasses.dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run."""

    num_train: int
    num_dev: int
    max_epoch: int
    round_epochs: int
    dim: int
    ffn: int
    blocks: int
    dec_blocks: int
    batch_bins: int
    workers: int
    warmup: int

    def config(self) -> str:
        return CONFIG.format(params="1.5 M" if self.dim >= 96 else "0.2 M", **self.fields())

    def fields(self) -> dict:
        return dataclasses.asdict(self)

    def rounds(self) -> list[int]:
        """Epochs per round, e.g. 7 epochs in rounds of 2: [2, 2, 2, 1]."""
        out, left = [], self.max_epoch
        while left > 0:
            out.append(min(self.round_epochs, left))
            left -= out[-1]
        return out


FULL = Plan(300, 40, 7, 2, 96, 384, 4, 2, 400_000, 0, 200)
SMALL = Plan(40, 8, 3, 1, 32, 64, 1, 1, 150_000, 0, 20)


def train_commands(plan: Plan, corpus, out: Path, name: str, extra: list[str], epochs: int):
    exp = out / name
    cmd = [sys.executable, str(BENCH / "round_train.py"), "--round_epochs", str(epochs)]
    cmd += [*corpus.data_args(), *corpus.normalize_args()]
    cmd += ["--config", str(out / "config.yaml"), "--output_dir", str(exp)]
    cmd += ["--ngpu", "0", "--seed", "0", "--max_epoch", str(plan.max_epoch), "--resume", "true"]
    cmd += ["--use_matplotlib", "false", "--num_att_plot", "0", "--use_tensorboard", "false"]
    cmd += ["--keep_nbest_models", "1", *extra]
    return exp, cmd


def describe(s: Summary) -> str:
    return (
        f"{s.name:>8}: train {s.train_seconds:7.2f} s/epoch, wall {s.wall_seconds or 0:7.2f} s, "
        f"steps {s.steps:5.1f}, fed {s.fed_seconds:7.1f} s audio, "
        f"plugin {s.plugin_seconds:.3f} s ({100 * s.overhead:.2f}%)"
    )


def markdown(plan: Plan, corpus_hours: float, base: Summary, pruned: Summary, res: dict) -> str:
    rows = [
        "| variant | median train loop (s/epoch) | median wall (s/epoch) | steps/epoch "
        "| audio fed (s/epoch) | plugin overhead |",
        "|---|---|---|---|---|---|",
    ]
    for s in (base, pruned):
        rows.append(
            f"| {s.name} | {s.train_seconds:.2f} | {s.wall_seconds or 0:.2f} | {s.steps:.0f} "
            f"| {s.fed_seconds:.0f} | {s.plugin_seconds:.3f} s ({100 * s.overhead:.2f}%) |"
        )
    return "\n".join(
        [
            f"Corpus: {plan.num_train} training utterances ({corpus_hours * 60:.1f} min), "
            f"{plan.num_dev} dev; {plan.max_epoch} epochs in rounds of {plan.round_epochs}; "
            f"compared epochs {pruned.epochs}.",
            "",
            *rows,
            "",
            f"Speed-up, train loop: **{res['ratio_train']:.2f}x**; wall per epoch: "
            f"**{res['ratio_wall']:.2f}x**; steps {res['ratio_steps']:.2f}x; audio fed "
            f"{res['ratio_fed']:.2f}x (ideal {IDEAL:.2f}x).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny corpus and model (smoke run)")
    parser.add_argument("--dry", action="store_true", help="print the plan and commands only")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/out/speedup[_small]")
    parser.add_argument("--num_train", type=int, default=None)
    parser.add_argument("--max_epoch", type=int, default=None)
    parser.add_argument("--nj", type=int, default=2, help="parallel synthesis/statistics jobs")
    args = parser.parse_args(argv)

    plan = SMALL if args.small else FULL
    if args.num_train:
        plan = dataclasses.replace(plan, num_train=args.num_train)
    if args.max_epoch:
        plan = dataclasses.replace(plan, max_epoch=args.max_epoch)
    out = args.out or BENCH / "out" / ("speedup_small" if args.small else "speedup")
    variants = {"baseline": BASELINE, "pruned": PRUNED}
    if args.dry:
        print(json.dumps({"plan": plan.fields(), "rounds": plan.rounds(), "variants": variants}))
        print(plan.config())
        return 0

    corpus, _ = shared_cpu_corpus(plan, out, args.nj)
    for name in variants:
        shutil.rmtree(out / name, ignore_errors=True)
    env = env_for_children()
    load: list[dict] = []  # the machine may be shared: record its load at each launch
    for r, epochs in enumerate(plan.rounds()):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            exp, cmd = train_commands(plan, corpus, out, name, variants[name], epochs)
            log(f"round {r + 1}/{len(plan.rounds())}: {name}, {epochs} epoch(s)")
            load.append({"round": r + 1, "variant": name, "loadavg_1min": os.getloadavg()[0]})
            run_logged(cmd, exp / f"train.round{r:02d}.log", env)

    compared = list(range(2, plan.max_epoch + 1))  # after the pruning warm-up epoch
    base = summarize("baseline", out / "baseline", compared)
    pruned = summarize("pruned", out / "pruned", compared)
    res = {
        "ratio_train": base.train_seconds / pruned.train_seconds,
        "ratio_wall": (base.wall_seconds or 0) / (pruned.wall_seconds or 1),
        "ratio_steps": base.steps / pruned.steps,
        "ratio_fed": base.fed_seconds / pruned.fed_seconds,
        "ideal": IDEAL,
        "overhead_pruned": pruned.overhead,
    }
    report = {
        "plan": plan.fields(),
        "variants": variants,
        "corpus_hours": corpus.hours(),
        "cpu_count": os.cpu_count(),
        "load": load,
        "results": res,
        "baseline": dataclasses.asdict(base),
        "pruned": dataclasses.asdict(pruned),
    }
    (out / "speedup.json").write_text(json.dumps(report, indent=2))
    md = markdown(plan, corpus.hours(), base, pruned, res)
    (out / "speedup.md").write_text(md + "\n")
    print(describe(base))
    print(describe(pruned))
    print(md.splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
