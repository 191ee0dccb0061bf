"""One rank of a gloo job that plans and scores epochs with :class:`DataPruningRun`, no model.

Used by ``test_distributed.py`` to test resume and rank agreement cheaply: every rank plans,
checks the plan, "trains" its share ``batch[rank::world]`` of each global batch with invented
losses (a fixed function of utterance and epoch), and finishes the epoch. Prints one JSON line
per epoch: ``{"rank", "epoch", "digest", "kept"}``.

    RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 \\
        python -m plugin.plan_ranks --shapes DIR --out EXP --epochs 3 5 [--shapes ...]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch.distributed as dist

from espnet_ddp.core.config import PruningConfig, TimeDropConfig
from espnet_ddp.core.seeding import stable_hash64
from espnet_ddp.espnet.distributed import RankInfo
from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable
from espnet_ddp.espnet.loss_capture import CapturedLosses
from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.options import PluginOptions
from espnet_ddp.espnet.pruning_run import DataPruningRun

MAX_EPOCH = 5


def make_run(shapes_dir: str, out: str, ranks: RankInfo) -> DataPruningRun:
    shapes = ShapeTable.load(
        [f"{shapes_dir}/speech_shape", f"{shapes_dir}/text_shape"], ["speech", "text"]
    )
    options = PluginOptions(
        pruning=PruningConfig.from_options("easy2hard", {"keep_ratio": 0.5, "ctc_weight": 0.3}),
        time_drop=TimeDropConfig.from_options("chunk", {"drop_ratio": 0.3}),
    )
    spec = BatchSpec("numel", 1, 400_000, (), "descending", "descending", False, ranks.world_size)
    return DataPruningRun(options, shapes, spec, out, MAX_EPOCH, MinKeepRule(), ranks)


def invented_losses(run: DataPruningRun, plan, ranks: RankInfo) -> CapturedLosses:
    ids = [u for batch in plan.batches for u in batch[ranks.rank :: ranks.world_size]]
    value = [(stable_hash64(f"{u}/{plan.epoch}") % 1000) / 10.0 for u in ids]
    return CapturedLosses(
        utt_ids=ids, ctc=value, att=[v / 2 for v in value], tokens=[run._tokens(u) for u in ids]
    )


def train(run: DataPruningRun, first: int, last: int) -> list[dict]:
    out = []
    for epoch in range(first, last + 1):
        plan = run.plan_epoch(epoch)
        run.check_plan(plan)
        run.finish_epoch(
            plan, invented_losses(run, plan, run.ranks), train_seconds=1.0,
            optimizer_steps=len(plan.batches), plugin_seconds=0.0, has_ctc=True, has_att=True,
        )  # fmt: skip
        out.append(
            {"rank": run.ranks.rank, "epoch": epoch, "digest": plan.selection_digest,
             "kept": list(plan.selection.kept)}
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """``--shapes``/``--out``/``--epochs`` once per scenario; with ``--expect_error`` a scenario
    that raises prints ``{"rank", "error"}`` and the next one runs in the same process group."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--shapes", action="append", required=True)
    parser.add_argument("--out", action="append", required=True)
    parser.add_argument("--epochs", type=int, nargs=2, action="append", required=True)
    parser.add_argument("--expect_error", action="store_true")
    args = parser.parse_args(argv)
    dist.init_process_group("gloo", init_method="env://")
    ranks = RankInfo.current()
    try:
        for shapes, out, epochs in zip(args.shapes, args.out, args.epochs, strict=True):
            try:
                for line in train(make_run(shapes, out, ranks), *epochs):
                    print(json.dumps(line), flush=True)
            except RuntimeError as e:
                if not args.expect_error:
                    raise
                print(json.dumps({"rank": ranks.rank, "error": str(e)}), flush=True)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
