"""ESPnet's ASR task with dynamic data pruning and time-wise dropping for the training iterator."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch.distributed as dist
from espnet2.tasks.asr import ASRTask
from espnet2.train.distributed_utils import DistributedOption
from espnet2.train.trainer import Trainer

from espnet_ddp.core.errors import ConfigError
from espnet_ddp.core.lr_fit import branch_epoch
from espnet_ddp.core.rounding import round_half_up
from espnet_ddp.espnet.compat import build_training_dataset, min_batch_size
from espnet_ddp.espnet.ctc_floor import ctc_floors, preprocessor_tokenizer
from espnet_ddp.espnet.distributed import RankInfo
from espnet_ddp.espnet.epoch_batches import BatchSpec, ShapeTable, read_utt2category
from espnet_ddp.espnet.min_length import MinKeepRule
from espnet_ddp.espnet.model_frames import measured_rule
from espnet_ddp.espnet.options import (
    add_plugin_arguments,
    frontend_sample_rate,
    plugin_options_from_args,
    record_seeds,
)
from espnet_ddp.espnet.pruned_iter_factory import PrunedIterFactory
from espnet_ddp.espnet.pruning_run import DataPruningRun, FrontendFrames
from espnet_ddp.espnet.pruning_trainer import PruningTrainer
from espnet_ddp.espnet.resume_check import check_resume_settings
from espnet_ddp.espnet.time_drop_preprocessor import TimeDropPreprocessor


class PrunedASRTask(ASRTask):
    """``ASRTask`` whose training iterator is pruned and time-dropped; everything else is stock.

    Validation, statistics collection, decoding and the saved model are ESPnet's own, so the
    ``config.yaml`` of an experiment loads in stock ``espnet2.bin.asr_inference``.
    """

    trainer = PruningTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_task_arguments(parser)
        add_plugin_arguments(parser)

    @classmethod
    def check_required_command_args(cls, args: argparse.Namespace) -> None:
        super().check_required_command_args(args)
        try:
            check_plugin_args(args)
        except ConfigError as e:
            print(f"{Path(sys.argv[0]).name}: error: {e}", file=sys.stderr)
            sys.exit(2)

    @classmethod
    def main_worker(cls, args: argparse.Namespace) -> None:
        """ESPnet's worker, then an orderly end of torch.distributed.

        The trainer is chosen first (:func:`trainer_class`): a DeepSpeed run without plugin
        options gets ESPnet's own ``Trainer``, which ESPnet then swaps for its DeepSpeed trainer.
        Without the orderly end, a gloo rank can abort at interpreter exit ("terminate called
        without an active exception") after training finished, and the launcher reports a failure.
        """
        cls.trainer = trainer_class(args)
        super().main_worker(args)
        shut_down_process_group()

    @classmethod
    def build_model(cls, args: argparse.Namespace):
        """ESPnet's model; for a time-dropping training run, its framing is measured on it
        (:func:`measured_rule`) for the CTC floors of the training iterator built next."""
        model = super().build_model(args)
        if needs_ctc_floor(args):
            _MEASURED[id(args)] = measured_rule(
                model, MinKeepRule.from_args(args), frontend_sample_rate(args)
            )
        return model

    @classmethod
    def build_iter_factory(
        cls,
        args: argparse.Namespace,
        distributed_option: DistributedOption,
        mode: str,
        kwargs: dict | None = None,
    ):
        if (
            mode != "train"
            or args.collect_stats
            or not uses_plugin_iterator(args)
            or stock_deepspeed_run(args)
        ):
            return super().build_iter_factory(args, distributed_option, mode, kwargs)
        return build_pruned_iter_factory(cls, args, distributed_option, kwargs)


# CTC floor rules measured by PrunedASRTask.build_model, by the id of the run's arguments.
_MEASURED: dict[int, MinKeepRule] = {}


def needs_ctc_floor(args: argparse.Namespace) -> bool:
    """A training run (it has ``--train_shape_file``) that drops time needs CTC floors."""
    return (
        not getattr(args, "collect_stats", False)
        and getattr(args, "time_drop", "none") != "none"
        and bool(getattr(args, "train_shape_file", None))
    )


def ctc_floor_rule(task: type[ASRTask], args: argparse.Namespace) -> MinKeepRule:
    """The CTC floor rule measured on this run's model (built now when it was not yet)."""
    rule = _MEASURED.pop(id(args), None)
    if rule is None:
        model = task.build_model(args)  # a PrunedASRTask records its rule as it builds
        rule = _MEASURED.pop(id(args), None)
        if rule is None:
            rule = measured_rule(model, MinKeepRule.from_args(args), frontend_sample_rate(args))
        del model
    return rule


def shut_down_process_group() -> None:
    """Waits for every rank, then destroys the default process group (when there is one).

    Only after a successful run: a failed rank raises instead, and the launcher stops the others.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def uses_plugin_iterator(args: argparse.Namespace) -> bool:
    """The plugin's iterator serves every sequence-iterator run, full-data baselines included."""
    return args.iterator_type == "sequence" and not args.multiple_iterator and (
        args.num_iters_per_epoch is None
    )


def stock_deepspeed_run(args: argparse.Namespace) -> bool:
    """``--use_deepspeed true`` without plugin options: ESPnet's own trainer and iterators.

    ESPnet accepts DeepSpeed only with its own ``Trainer`` class; with no plugin option set the
    run is exactly stock. With one set, :func:`check_plugin_args` refuses the run.
    """
    return bool(getattr(args, "use_deepspeed", False)) and not getattr(
        args, "collect_stats", False
    )


def trainer_class(args: argparse.Namespace) -> type[Trainer]:
    """The trainer of this run: ESPnet's ``Trainer`` for a DeepSpeed run (no plugin options,
    see :func:`stock_deepspeed_run`), the plugin's :class:`PruningTrainer` otherwise."""
    return Trainer if stock_deepspeed_run(args) else PruningTrainer


def check_plugin_args(args: argparse.Namespace) -> None:
    """Validate the plugin options against each other and ESPnet's options, before training."""
    if getattr(args, "collect_stats", False):
        return
    options = plugin_options_from_args(args)
    record_seeds(args)
    check_resume_settings(args)
    if getattr(args, "use_deepspeed", False) and options.active:
        given = [
            f"--{name} {getattr(args, name)}"
            for name in ("data_pruning", "time_drop")
            if getattr(args, name) != "none"
        ]
        raise ConfigError(
            f"--use_deepspeed true does not apply with {' and '.join(given)}: ESPnet trains "
            "DeepSpeed runs with its own DeepSpeed trainer only, which neither scores nor prunes "
            "(drop --use_deepspeed, or the plugin options for a stock DeepSpeed run)"
        )
    if options.active and not uses_plugin_iterator(args):
        raise ConfigError(
            "--data_pruning/--time_drop need --iterator_type sequence, --multiple_iterator false "
            "and no --num_iters_per_epoch (an epoch must be one pass over the kept utterances)"
        )
    if options.lr_fit.decay == "wsd":
        for budget in options.lr_fit.branch_budgets:  # each branch starts in the constant phase
            epochs = max(1, round_half_up(budget * args.max_epoch))
            branch_epoch(args.max_epoch, epochs, float(options.lr_fit.decay_share or 0.0))
    if options.lr_fit.active:
        if not uses_plugin_iterator(args):
            raise ConfigError(
                f"--lr_fit {options.lr_fit.decay} needs --iterator_type sequence, "
                "--multiple_iterator false and no --num_iters_per_epoch (it reads each epoch's "
                "planned optimizer steps from the plugin's iterator)"
            )
        if getattr(args, "use_deepspeed", False):
            raise ConfigError(
                f"--lr_fit {options.lr_fit.decay} does not apply with --use_deepspeed true: "
                "DeepSpeed builds its scheduler from --deepspeed_config (its JSON); set the decay "
                "there, or drop --lr_fit"
            )
    if options.time_drop.mode != "none":
        if getattr(args, "max_cache_size", 0.0) > 0:
            raise ConfigError(
                "--time_drop needs --max_cache_size 0 (a cache would freeze the drops)"
            )
        if args.frontend is None:
            raise ConfigError("--time_drop needs raw waveform input (--frontend default)")
        if options.time_drop.mode == "frames" and args.frontend != "default":
            raise ConfigError(
                f"--time_drop frames plans in the frames of --frontend default, got "
                f"--frontend {args.frontend}"
            )
    if args.ngpu > 1 and not args.distributed and options.active:
        raise ConfigError("espnet_ddp supports --ngpu > 1 only through torch.distributed")


def frontend_framing(args: argparse.Namespace) -> FrontendFrames:
    """The framing of ESPnet's default STFT frontend, from ``--frontend_conf``."""
    conf = getattr(args, "frontend_conf", None) or {}
    return FrontendFrames(
        hop_length=int(conf.get("hop_length", 128)),
        n_fft=int(conf.get("n_fft", 512)),
        center=bool(conf.get("center", True)),
    )


def build_pruned_iter_factory(
    task: type[ASRTask],
    args: argparse.Namespace,
    distributed_option: DistributedOption,
    kwargs: dict | None = None,
) -> PrunedIterFactory:
    """Build the training factory: one dataset over all utterances, batches rebuilt per epoch."""
    options = plugin_options_from_args(args)
    iter_options = task.build_iter_options(args, distributed_option, "train")
    for k, v in (kwargs or {}).items():
        setattr(iter_options, k, v)
    ranks = RankInfo.current()
    data_names = [name for _, name, _ in iter_options.data_path_and_name_and_type]
    shapes = ShapeTable.load(iter_options.shape_files, data_names)
    categories = Path(iter_options.data_path_and_name_and_type[0][0]).parent / "utt2category"
    if categories.exists():  # where ESPnet's sequence factory looks for it
        shapes = shapes.with_categories(read_utt2category(categories), str(categories))
        logging.info(
            f"espnet_ddp: {categories}: batch_type {iter_options.batch_type} batches "
            + ("one category each" if iter_options.batch_type == "folded" else
               "ignore it, as ESPnet's do")
        )
    min_keep = MinKeepRule.from_args(args)
    floors = None
    if options.time_drop.mode != "none":
        min_keep = ctc_floor_rule(task, args)
        text = [p for p, name, _ in iter_options.data_path_and_name_and_type if name == "text"]
        floors = ctc_floors(
            shapes.utt_ids,
            min_keep,
            text_path=text[0] if text else None,
            tokenize=preprocessor_tokenizer(iter_options.preprocess_fn),
            token_counts=None if shapes.text_index is None else [
                shapes.length(shapes.text_index, u) for u in shapes.utt_ids
            ],
        )
    run = DataPruningRun(
        options=options,
        shapes=shapes,
        batch_spec=BatchSpec(
            batch_type=iter_options.batch_type,
            batch_size=iter_options.batch_size,
            batch_bins=iter_options.batch_bins,
            fold_lengths=tuple(args.fold_length),
            sort_in_batch=args.sort_in_batch,
            sort_batch=args.sort_batch,
            drop_last=args.drop_last_iter,
            min_batch_size=ranks.world_size if ranks.distributed else min_batch_size(args),
            text_bins=options.pruning.text_bins,
        ),
        output_dir=args.output_dir,
        max_epoch=args.max_epoch,
        min_keep=min_keep,
        ranks=ranks,
        floors=floors,
        frames=frontend_framing(args) if options.time_drop.mode == "frames" else None,
    )
    preprocessor = None
    if options.time_drop.mode not in ("none", "frames"):
        preprocessor = TimeDropPreprocessor(iter_options.preprocess_fn, run.dropper)
        iter_options.preprocess_fn = preprocessor
    dataset = build_training_dataset(task, args, iter_options)
    logging.info(
        f"espnet_ddp: {len(shapes.utt_ids)} training utterances, data_pruning={args.data_pruning} "
        f"{options.pruning}, time_drop={args.time_drop} {options.time_drop}"
    )
    return PrunedIterFactory(
        run,
        dataset,
        preprocessor,
        seed=args.seed,
        num_workers=args.num_workers,
        collate_fn=iter_options.collate_fn,
        pin_memory=args.ngpu > 0,
        shuffle_within_batch=args.shuffle_within_batch,
    )
