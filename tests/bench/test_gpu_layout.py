"""bench/gpu as a package: one entry point picking the mode, the modules' doctests, and decoding
in spawned workers joined and scored into a RESULTS.md that espnet_ddp.report reads back
(budget: 40 s in all, most of it two spawned worker interpreters)."""

from __future__ import annotations

import doctest
import importlib
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from common import Corpus  # noqa: E402
from gpu import __main__ as entry  # noqa: E402
from gpu import decoding, full, quick, sweep  # noqa: E402
from gpu.plan import SMALL  # noqa: E402

from espnet_ddp.report.experiment import load_experiment  # noqa: E402

MODULES = ["__main__", "plan", "variants", "smi", "figures", "report", "environment",
           "quick_report", "sweep_report"]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_doctests_run(name: str) -> None:
    module = importlib.import_module(f"gpu.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, name


def test_one_entry_point_picks_the_mode_and_its_options(capsys: pytest.CaptureFixture) -> None:
    assert entry.mode_of(["--dry"])[0] is full
    assert entry.mode_of(["--quick", "--small"]) == (quick, ["--small"])
    assert entry.main(["--quick", "--sweep"]) == 2
    assert capsys.readouterr().err == "run.sh: error: give one of --quick and --sweep\n"
    with pytest.raises(SystemExit) as done:
        entry.main(["--sweep", "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: bash bench/gpu/run.sh --sweep")
    assert "--decode_only" in help_text and "--parallel" in help_text
    with pytest.raises(SystemExit):  # a sweep option is not the quick plan's
        entry.main(["--quick", "--decode_only"])
    assert "unrecognized arguments: --decode_only" in capsys.readouterr().err


def test_each_mode_writes_its_own_results_file(capsys: pytest.CaptureFixture) -> None:
    names = {m.NAME: m.RESULTS_MD for m in (quick, sweep, full)}
    assert names == {"quick": "RESULTS_quick.md", "sweep": "RESULTS_sweep.md", "full": "RESULTS.md"}
    args = entry.parser_for(sweep).parse_args(["--small"])
    assert args.results_md == REPO / "bench" / "gpu" / "RESULTS_sweep.md"
    assert entry.main(["--dry", "--small", "--only", "b_e2h"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "full" and list(out["variants"]) == ["a_full", "b_e2h"]


def fake_inference(cmd: list[str]) -> None:
    """Stands in for asr_inference in the spawned workers: the reference text as hypothesis,
    without its last word for utterances of test set b."""
    opt = dict(zip(cmd[::2], cmd[1::2]))
    test_dir = Path(opt["--data_path_and_name_and_type"].split(",")[0]).parent
    refs = dict(line.rstrip("\n").split(" ", 1) for line in (test_dir / "text").open())
    keys = [line.split()[0] for line in Path(opt["--key_file"]).open()]
    out = Path(opt["--output_dir"]) / "1best_recog"
    out.mkdir(parents=True)
    hyps = [(k, refs[k].rsplit(" ", 1)[0] if k.startswith("b") else refs[k]) for k in keys]
    (out / "text").write_text("".join(f"{k} {h}\n" for k, h in hyps))
    print(f"decoded {len(keys)} with beam {opt['--beam_size']}")


def write_set(root: Path, name: str, texts: dict[str, str]) -> None:
    d = root / "data" / name
    d.mkdir(parents=True)
    (d / "text").write_text("".join(f"{u} {t}\n" for u, t in texts.items()))
    (d / "wav.scp").write_text("".join(f"{u} /dev/null\n" for u in texts))
    (d / "utt2spk").write_text("".join(f"{u} {u}\n" for u in texts))


def test_decode_in_spawned_workers_then_score_into_results_md(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus", ("test_a", "test_b"))
    write_set(corpus.root, "test_a", {"a1": "one two", "a2": "three four", "a3": "five six"})
    write_set(corpus.root, "test_b", {"b1": "seven eight", "b2": "nine ten"})
    out = tmp_path / "run"
    for name in ("m1", "m2"):
        (out / "exp" / name).mkdir(parents=True)
    test_dir = decoding.merge_test_sets(corpus, out)
    runner = f"{fake_inference.__module__}:fake_inference"
    decoding.decode(out, ["m1", "m2"], test_dir, SMALL, ngpu=0, nj=2, runner=runner)
    # worker 0 got a1 a3 b2 (every other sorted key), worker 1 a2 b1; both decoded both models
    assert (out / "decode_keys" / "keys.0").read_text() == "a1 a1\na3 a3\nb2 b2\n"
    assert (out / "decode_keys" / "decode.1.log").read_text() == (
        "decoded 2 with beam 2\ndecoded 2 with beam 2\n"
    )
    merged = (out / "exp" / "m2" / "decode" / "text").read_text().splitlines()
    assert merged == ["a1 one two", "a2 three four", "a3 five six", "b1 seven", "b2 nine"]
    assert decoding.score(corpus, out, "m1") == {
        "test_a": {"wer": 0.0, "cer": 0.0},
        "test_b": {"wer": 50.0, "cer": pytest.approx(100 * 10 / 19, abs=0.05)},
    }
    exp = load_experiment(out / "exp" / "m1")
    assert exp.error_rates("WER") == {"test_a": 0.0, "test_b": 50.0}


def test_a_failing_worker_names_its_log(tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "corpus", ("test_a",))
    write_set(corpus.root, "test_a", {"a1": "one"})
    out = tmp_path / "run"
    (out / "exp" / "m1").mkdir(parents=True)
    test_dir = decoding.merge_test_sets(corpus, out)
    with pytest.raises(RuntimeError, match=r"decoding failed \(exit 1\): see .*decode\.0\.log"):
        decoding.decode(out, ["m1"], test_dir, SMALL, 0, 1, runner="json:no_such_function")
    assert "AttributeError" in (out / "decode_keys" / "decode.0.log").read_text()
