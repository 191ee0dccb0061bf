"""The run's ``--seed`` varies every random choice of the plugin unless ``seed`` is set in a
``*_conf``; the chosen seed reaches ``config.yaml`` and the selections follow it exactly."""

from __future__ import annotations

from espnet_ddp.core.score_table import ScoreTable
from espnet_ddp.core.selection import select_epoch
from espnet_ddp.core.time_drop import TimeDropper
from espnet_ddp.espnet.options import plugin_options_from_args
from espnet_ddp.espnet.task import PrunedASRTask, check_plugin_args

IDS = [f"utt{i:03d}" for i in range(40)]


def parse(*argv: str):
    return PrunedASRTask.get_parser().parse_args(["--output_dir", "x", "--max_epoch", "6", *argv])


def kept(strategy: str, *argv: str, epoch: int = 3) -> tuple[str, ...]:
    options = plugin_options_from_args(parse("--data_pruning", strategy, *argv))
    table = ScoreTable()
    table.update(IDS, [float(i) for i in range(len(IDS))])
    return select_epoch(IDS, table, epoch, 6, options.pruning).kept


def test_seed_1_and_seed_2_select_different_random_and_infobatch_subsets() -> None:
    for strategy in ("random", "infobatch"):
        one, two = kept(strategy, "--seed", "1"), kept(strategy, "--seed", "2")
        assert one != two, strategy
        assert kept(strategy, "--seed", "1") == one  # the same seed, the same subset
    # the selection of --seed 2 is the one of an explicit seed=2 (the seed IS the derivation)
    assert kept("random", "--seed", "2") == kept("random", "--data_pruning_conf", "seed=2")


def test_an_explicit_seed_wins_over_the_runs_seed() -> None:
    for strategy in ("random", "infobatch"):
        a = kept(strategy, "--seed", "1", "--data_pruning_conf", "seed=7")
        b = kept(strategy, "--seed", "2", "--data_pruning_conf", "seed=7")
        assert a == b, strategy


def test_time_dropping_follows_the_seed_too() -> None:
    def drops(*argv: str) -> list[tuple[int, int]]:
        options = plugin_options_from_args(parse(
            "--time_drop", "chunk", "--time_drop_conf", "drop_ratio=0.3", *argv))  # fmt: skip
        dropper = TimeDropper(options.time_drop, max_epoch=6)
        plan = dropper.plan("utt007", 32000, epoch=3)
        return list(zip(plan.starts.tolist(), plan.lengths.tolist(), strict=True))

    assert drops("--seed", "1") != drops("--seed", "2")
    assert drops("--seed", "1", "--time_drop_conf", "seed=4") == drops(
        "--seed", "2", "--time_drop_conf", "seed=4")


def test_the_seed_used_is_written_into_the_config_for_active_options_only() -> None:
    args = parse("--seed", "5", "--data_pruning", "random", "--time_drop", "chunk")
    check_plugin_args(args)
    assert args.data_pruning_conf["seed"] == 5 and args.time_drop_conf["seed"] == 5
    plain = parse("--seed", "5")
    check_plugin_args(plain)
    assert plain.data_pruning_conf == {} and plain.time_drop_conf == {}
    kept_explicit = parse("--seed", "5", "--data_pruning", "random", "--data_pruning_conf",
                          "seed=9")  # fmt: skip
    check_plugin_args(kept_explicit)
    assert kept_explicit.data_pruning_conf["seed"] == 9
