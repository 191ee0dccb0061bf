"""Decoding and scoring: stock ``espnet2.bin.asr_inference``, then WER/CER and ``RESULTS.md``.

Responsible for merging the test sets into one data directory (so each model is decoded in one
pass), splitting its utterances over ``nj`` worker processes that each decode every model (the
import of espnet2 costs 8-28 s a process, paid once per worker, not once per model), joining
their hypotheses, and scoring each model per test set with ``espnet_ddp.tools.score_asr`` into
``exp/<name>/decode/<test>/score_{wer,cer}`` and the experiment's ``RESULTS.md``, the file
``python -m espnet_ddp.bin.compare`` reads. Not responsible for the decoding itself (ESPnet's).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from common import Corpus

from .plan import Plan

INFERENCE = "espnet2.bin.asr_inference:main"


def merge_test_sets(corpus: Corpus, out: Path) -> Path:
    """One data directory holding all test sets: ``out/data/test_all``."""
    from espnet_ddp.tools.datadir import DataDir

    merged = DataDir()
    for name in corpus.test_sets:
        d = DataDir.read(corpus.data / name)
        merged.wav.update(d.wav)
        merged.text.update(d.text)
        merged.utt2spk.update(d.utt2spk)
    merged.write(out / "data" / "test_all")
    return out / "data" / "test_all"


def inference_args(exp: Path, test_dir: Path, key_file: Path, out_dir: Path, plan: Plan,
                   ngpu: int) -> list[str]:  # fmt: skip
    """The ``asr_inference`` options of one model on one split: beam, CTC weight 0.3, no LM,
    ``valid.acc.ave.pth`` (``valid.acc.best.pth`` when no average was written)."""
    model = exp / "valid.acc.ave.pth"
    if not model.exists():
        model = exp / "valid.acc.best.pth"
    return [
        "--asr_train_config", str(exp / "config.yaml"),
        "--asr_model_file", str(model),
        "--data_path_and_name_and_type", f"{test_dir}/wav.scp,speech,sound",
        "--key_file", str(key_file),
        "--output_dir", str(out_dir),
        "--ngpu", str(ngpu), "--batch_size", "1", "--beam_size", str(plan.beam),
        "--ctc_weight", "0.3", "--lm_weight", "0.0", "--penalty", "0.0",
        "--maxlenratio", str(plan.maxlenratio), "--minlenratio", "0.0", "--nbest", "1",
    ]  # fmt: skip


def run_jobs(job_file: str, log_file: str, runner: str = INFERENCE) -> None:
    """A decoding worker: every command line of ``job_file`` through ``runner``, in this process.

    ``runner`` is ``module:function`` taking an argument list (ESPnet's ``asr_inference``
    ``main``). The worker's stdout and stderr go to ``log_file``.
    """
    with open(log_file, "w") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    module, _, function = runner.partition(":")
    main = getattr(__import__(module, fromlist=[function]), function)
    for cmd in json.loads(Path(job_file).read_text()):
        main(cmd)
    sys.stdout.flush()
    sys.stderr.flush()


def decode(
    out: Path, names: Sequence[str], test_dir: Path, plan: Plan, ngpu: int, nj: int,
    runner: str = INFERENCE,
) -> None:  # fmt: skip
    """Decode every model of ``names`` on ``test_dir``, ``nj`` worker processes in parallel.

    Worker ``j`` decodes utterances ``j, j + nj, ...`` (sorted keys) of every model into
    ``exp/<name>/decode/split<j>``; the hypotheses are joined into ``exp/<name>/decode/text``.
    Raises naming the worker's log when one fails.
    """
    from espnet_ddp.tools.datadir import write_kv

    keys = sorted(line.split()[0] for line in (test_dir / "wav.scp").open())
    work = out / "decode_keys"
    work.mkdir(parents=True, exist_ok=True)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked CUDA state
    workers = []
    for j in range(nj):
        key_file = work / f"keys.{j}"
        key_file.write_text("".join(f"{k} {k}\n" for k in keys[j::nj]))
        jobs = [
            inference_args(out / "exp" / name, test_dir, key_file,
                           out / "exp" / name / "decode" / f"split{j}", plan, ngpu)
            for name in names
        ]  # fmt: skip
        job_file = work / f"jobs.{j}.json"
        job_file.write_text(json.dumps(jobs))
        log_file = work / f"decode.{j}.log"
        proc = spawn.Process(target=run_jobs, args=(str(job_file), str(log_file), runner))
        proc.start()
        workers.append((proc, log_file))
    for proc, log_file in workers:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"decoding failed (exit {proc.exitcode}): see {log_file}")
    for name in names:
        hyp: dict[str, str] = {}
        for j in range(nj):
            text = out / "exp" / name / "decode" / f"split{j}" / "1best_recog" / "text"
            if text.exists():
                for line in text.open():
                    utt, _, words = line.rstrip("\n").partition(" ")
                    hyp[utt] = words
        write_kv(out / "exp" / name / "decode" / "text", hyp)


def score(corpus: Corpus, out: Path, name: str) -> dict[str, dict[str, float]]:
    """WER and CER (%) of one model on every test set; writes the experiment's ``RESULTS.md``."""
    from espnet_ddp.tools import score_asr
    from espnet_ddp.tools.datadir import read_kv, write_kv
    from espnet_ddp.tools.write_results_md import parse_result, results_markdown

    exp = out / "exp" / name
    hyp_all = read_kv(exp / "decode" / "text")
    results: dict[str, dict[str, float]] = {}
    for test in corpus.test_sets:
        ref = corpus.data / test / "text"
        sdir = exp / "decode" / test
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
    (exp / "RESULTS.md").write_text(results_markdown(exp))
    return results
