"""ESPnet Trainer that scores each training utterance from its own loss and records the epoch."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from espnet2.schedulers.abs_scheduler import AbsBatchStepScheduler
from espnet2.train.trainer import Trainer

from espnet_ddp.espnet.checkpoint_io import (
    atomic_torch_saves,
    check_resumable,
    ensure_epoch_model,
    keep_branch_states,
)
from espnet_ddp.espnet.compat import full_checkpoint_load, resume_needs_full_load
from espnet_ddp.espnet.fitted_lr import FittedLRScheduler
from espnet_ddp.espnet.frame_drop import FrameDropHook
from espnet_ddp.espnet.loss_capture import PerUtteranceLossCapture
from espnet_ddp.espnet.lr_stretch import StretchedBatchScheduler
from espnet_ddp.espnet.pruned_iter_factory import PlannedEpochIterator, PrunedIterFactory


def is_rank_zero() -> bool:
    """True unless this process is a rank other than 0 of an initialized process group."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class _EpochBatches:
    """Iterates ``inner``; registers ``stats`` with the reporter at the first batch, and tells
    the fitted schedulers which optimizer step each accumulation group's first batch leads to."""

    def __init__(
        self,
        inner: PlannedEpochIterator,
        reporter,
        stats: dict,
        fitted: list[FittedLRScheduler],
        accum_grad: int,
    ) -> None:
        self.inner, self.reporter, self.stats = inner, reporter, stats
        self.fitted, self.accum_grad = fitted, accum_grad

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self):
        for i, item in enumerate(self.inner):
            if i == 0:
                self.reporter.register(self.stats)
            if self.fitted and i % self.accum_grad == 0:
                for sched in self.fitted:
                    sched.start_slot(i // self.accum_grad + 1)
            yield item


def fitted_schedulers(optimizers, schedulers, train_iter_factory, max_epoch: int) -> list:
    """``schedulers`` with each replaced by a :class:`FittedLRScheduler` under ``--lr_fit``."""
    if not isinstance(train_iter_factory, PrunedIterFactory):
        return list(schedulers)
    config = train_iter_factory.run.options.lr_fit
    if not config.active:
        return list(schedulers)
    logging.info(
        f"espnet_ddp: --lr_fit {config.decay} replaces the scheduler(s) "
        f"{[type(s).__name__ for s in schedulers]}: linear warm-up over {config.warmup_steps} "
        f"optimizer steps, then {config.decay} decay to 0 at the last step of epoch {max_epoch}"
    )
    return [FittedLRScheduler(opt, config, max_epoch) for opt in optimizers]


class PruningTrainer(Trainer):
    """ESPnet's trainer plus loss capture around each training epoch.

    ``train_one_epoch`` runs ESPnet's own loop unchanged; around it, hooks record per-utterance
    losses, optimizer steps are counted, step-based schedulers are optionally stretched, and at
    the end the epoch's losses become the next scores (before ESPnet writes its checkpoint), and
    the next epoch is planned and its loader's workers started, while ESPnet validates.
    Iterators that do not come from :class:`PrunedIterFactory` pass through untouched.
    """

    @classmethod
    def run(
        cls,
        model,
        optimizers,
        schedulers,
        train_iter_factory,
        valid_iter_factory,
        plot_attention_iter_factory,
        trainer_options,
        distributed_option,
    ) -> None:
        """ESPnet's ``run``, with the schedulers replaced first under ``--lr_fit`` (so the
        checkpoint saves and restores the fitted scheduler's state), and every checkpoint and
        model file written atomically (:mod:`espnet_ddp.espnet.checkpoint_io`)."""
        with atomic_torch_saves(trainer_options.output_dir):
            super().run(
                model=model,
                optimizers=optimizers,
                schedulers=fitted_schedulers(
                    optimizers, schedulers, train_iter_factory, int(trainer_options.max_epoch)
                ),
                train_iter_factory=train_iter_factory,
                valid_iter_factory=valid_iter_factory,
                plot_attention_iter_factory=plot_attention_iter_factory,
                trainer_options=trainer_options,
                distributed_option=distributed_option,
            )

    @staticmethod
    def resume(checkpoint, model, reporter, *args, **kwargs) -> None:
        """ESPnet's ``resume``, after checking that the files it and the end of training need
        are whole, and completing the checkpoint epoch's model file if a kill cut it off. Under
        ESPnet < 202506 and >= 202609 (:func:`~espnet_ddp.espnet.compat.resume_needs_full_load`)
        the run's own ``checkpoint.pth`` is loaded in full
        (:func:`~espnet_ddp.espnet.compat.full_checkpoint_load`: ``weights_only=False``, and
        ESPnet's ``ESPNET_ALLOW_UNSAFE_TORCH_LOAD`` opt-in for this one call), since the
        reporter's statistics hold numpy scalars."""
        check_resumable(checkpoint)
        if not resume_needs_full_load():
            Trainer.resume(checkpoint, model, reporter, *args, **kwargs)
        else:
            with full_checkpoint_load():
                Trainer.resume(checkpoint, model, reporter, *args, **kwargs)
        if is_rank_zero():
            ensure_epoch_model(Path(checkpoint).parent, reporter.get_epoch(), model)

    @classmethod
    def train_one_epoch(cls, model, iterator, optimizers, schedulers, scaler, reporter, **kwargs):
        if not isinstance(iterator, PlannedEpochIterator):
            return super().train_one_epoch(
                model=model,
                iterator=iterator,
                optimizers=optimizers,
                schedulers=schedulers,
                scaler=scaler,
                reporter=reporter,
                **kwargs,
            )
        plan, run = iterator.plan, iterator.run
        options = kwargs.get("options")
        if options is not None and is_rank_zero():
            keep_branch_states(run.options.lr_fit, Path(options.output_dir), plan.epoch,
                               int(options.max_epoch))  # fmt: skip
        core = model.module if hasattr(model, "module") else model
        capture = PerUtteranceLossCapture(core)
        capture.attach(weights=plan.selection.weights)
        frame_hook = None
        if run.options.time_drop.mode == "frames":
            frame_hook = FrameDropHook(
                core, run.dropper, plan.frame_removals.__getitem__, plan.epoch
            )
            frame_hook.attach()
        steps = [0]
        handles = [
            opt.register_step_post_hook(lambda *_: steps.__setitem__(0, steps[0] + 1))
            for opt in optimizers
        ]
        accum = max(int(getattr(kwargs["options"], "accum_grad", 1)), 1)
        fitted = [s for s in schedulers if isinstance(s, FittedLRScheduler)]
        for sched in fitted:
            sched.begin_epoch(plan.epoch, len(plan.batches) // accum)
            shortened = sched.schedule.shortened
            if shortened is not None and not getattr(sched, "shortening_logged", False):
                sched.shortening_logged = True
                logging.warning(
                    f"espnet_ddp: --lr_fit warm-up shortened from {shortened[0]} to "
                    f"{shortened[1]} optimizer steps, a quarter of this run's "
                    f"{len(plan.batches) // accum} x {sched.schedule.max_epoch} planned steps, "
                    "so that the learning rate decays to 0 by the last step"
                )
        if run.options.pruning.lr_trajectory == "epoch":
            schedulers = [
                StretchedBatchScheduler(
                    s, plan.full_data_batches // accum, max(len(plan.batches) // accum, 1)
                )
                if isinstance(s, AbsBatchStepScheduler)
                else s
                for s in schedulers
            ]
        stats = {
            "ddp_kept_ratio": plan.selection.kept_ratio,
            "ddp_fed_hours": plan.fed_samples / run.fs / 3600,
            "ddp_batches": float(len(plan.batches)),
            "ddp_plan_time": plan.plan_seconds,
        }
        start = time.perf_counter()
        try:
            invalid = super().train_one_epoch(
                model=model,
                iterator=_EpochBatches(iterator, reporter, stats, fitted, accum),
                optimizers=optimizers,
                schedulers=schedulers,
                scaler=scaler,
                reporter=reporter,
                **kwargs,
            )
        finally:
            capture.detach()
            if frame_hook is not None:
                frame_hook.detach()
            for h in handles:
                h.remove()
        train_seconds = time.perf_counter() - start
        for sched in fitted:  # before ESPnet saves the checkpoint of this epoch
            sched.end_epoch()
        captured = capture.collect()
        if frame_hook is not None:  # the encoder was fed frames x hop, not the waveform
            captured.fed_samples = frame_hook.fed_frames * run.frames.hop_length
        record = run.finish_epoch(
            plan,
            captured,
            train_seconds=train_seconds,
            optimizer_steps=steps[0] // max(len(optimizers), 1),
            plugin_seconds=capture.hook_seconds,
            has_ctc=getattr(core, "ctc", None) is not None and core.ctc_weight != 0.0,
            has_att=getattr(core, "decoder", None) is not None and core.ctc_weight != 1.0,
        )
        if not invalid:  # ESPnet stops after an epoch without a valid step
            iterator.start_next_epoch(seed=int(getattr(kwargs.get("options"), "seed", 0)))
        logging.info(
            f"espnet_ddp epoch {plan.epoch}: phase={record['phase']} "
            f"kept={record['kept_utterances']}/{record['total_utterances']} "
            f"batches={record['num_batches']}/{record['full_data_batches']} "
            f"fed={record['fed_seconds']:.1f}s of {record['total_seconds']:.1f}s "
            f"steps={record['optimizer_steps']} plugin={record['plugin_seconds']:.3f}s "
            f"({100 * record['plugin_seconds'] / max(train_seconds, 1e-9):.2f}% of the epoch)"
        )
        return invalid
