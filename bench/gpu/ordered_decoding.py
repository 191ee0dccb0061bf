"""Decoding many models against a deadline: utterance by utterance, in order of priority.

Responsible for decoding every model of the sweep on its test sets with ESPnet's own decoder
(``espnet2.bin.asr_inference.Speech2Text``, the class ``asr_inference`` runs, with the same
options as :func:`gpu.decoding.inference_args`) so that a command cut short still leaves a
complete comparison: the utterances are queued set after set in the order given (the dev set
that selects first, then the decision test set, then the robustness sets), worker ``j`` takes
items ``j, j + nj, ...``, and for each item decodes it with EVERY model before moving on. At the
deadline the workers stop; an utterance counts only when every model decoded it, so all models
are scored on the same utterances. Each worker loads the models once (not once per model and
split, as ``asr_inference`` would) and appends each hypothesis to its own file as it goes.

Not responsible for scoring (:func:`score_subset`, through ``espnet_ddp.tools.score_asr``,
writes each experiment's ``RESULTS.md``) nor for which models or sets (:mod:`gpu.sweep`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from .plan import Plan


class Item(NamedTuple):
    """One utterance to decode: its test set, id and audio file."""

    test_set: str
    utt: str
    wav: str


def queue(sets: Sequence[tuple[str, Path]]) -> list[Item]:
    """Every utterance of ``sets`` (name, data directory), set after set, ids sorted.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "wav.scp").write_text("b /b.flac\\na /a.flac\\n")
    >>> [i.utt for i in queue([("dev", d), ("test", d)])]
    ['a', 'b', 'a', 'b']
    """
    items = []
    for name, data in sets:
        wavs = dict(line.rstrip("\n").split(maxsplit=1) for line in (data / "wav.scp").open())
        items += [Item(name, utt, wavs[utt]) for utt in sorted(wavs)]
    return items


def model_file(exp: Path) -> Path:
    """The model a run is decoded with: ``valid.acc.ave.pth``, else ``valid.acc.best.pth``."""
    ave = exp / "valid.acc.ave.pth"
    return ave if ave.exists() else exp / "valid.acc.best.pth"


def decoder_options(plan: Plan) -> dict:
    """``Speech2Text`` options: the plan's beam, CTC weight 0.3, no LM, one best."""
    return {"beam_size": plan.beam, "ctc_weight": 0.3, "lm_weight": 0.0, "penalty": 0.0,
            "maxlenratio": plan.maxlenratio, "minlenratio": 0.0, "nbest": 1}  # fmt: skip


def worker(job_file: str, log_file: str) -> None:
    """A decoding process: load every model, then decode its items until the deadline.

    The job (JSON) holds ``models`` (name -> config, model file, hypothesis file), ``items``,
    ``options``, ``device`` and ``deadline`` (``time.time()``). Hypotheses are appended as
    ``<set> <utt> <text>`` lines, flushed after each item.
    """
    with open(log_file, "w") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    import soundfile
    import torch

    torch.set_num_threads(1)
    from espnet2.bin.asr_inference import Speech2Text

    job = json.loads(Path(job_file).read_text())
    decoders, outputs = {}, {}
    for name, spec in job["models"].items():
        decoders[name] = Speech2Text(
            asr_train_config=spec["config"], asr_model_file=spec["model"],
            device=job["device"], **job["options"],
        )  # fmt: skip
        outputs[name] = open(spec["hyp"], "a", encoding="utf-8")  # noqa: SIM115
    done = 0
    for test_set, utt, wav in job["items"]:
        if time.time() >= job["deadline"]:
            print(f"deadline: stopped after {done} of {len(job['items'])} items", flush=True)
            break
        speech, _ = soundfile.read(wav, dtype="float32")
        for name, decode in decoders.items():
            with torch.no_grad():
                text = decode(speech)[0][0] or ""
            outputs[name].write(f"{test_set} {utt} {' '.join(text.split())}".rstrip() + "\n")
            outputs[name].flush()
        done += 1
    for out in outputs.values():
        out.close()
    print(f"decoded {done} items", flush=True)


def decode_ordered(
    out: Path, names: Sequence[str], sets: Sequence[tuple[str, Path]], plan: Plan, ngpu: int,
    nj: int, deadline: float, tag: str = "decode",
) -> dict[str, list[str]]:  # fmt: skip
    """Decode every model of ``names`` (``out/exp/<name>``) on ``sets`` until ``deadline``
    (``time.time()``), ``nj`` worker processes.

    Each model's hypotheses of the utterances that EVERY model decoded are written as
    ``exp/<name>/<tag>/<set>/text``; returns ``{set: [those utterances]}`` in queue order.
    Raises naming a worker's log when a worker failed.
    """
    items = queue(sets)
    work = out / f"{tag}_work"
    work.mkdir(parents=True, exist_ok=True)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked CUDA state
    procs = []
    for j in range(nj):
        models = {
            name: {"config": str(out / "exp" / name / "config.yaml"),
                   "model": str(model_file(out / "exp" / name)),
                   "hyp": str(work / f"{name}.{j}.hyp")}
            for name in names
        }  # fmt: skip
        for spec in models.values():
            Path(spec["hyp"]).write_text("")
        job = {"models": models, "items": items[j::nj], "options": decoder_options(plan),
               "device": "cuda" if ngpu else "cpu", "deadline": deadline}  # fmt: skip
        job_file = work / f"job.{j}.json"
        job_file.write_text(json.dumps(job))
        log_file = work / f"decode.{j}.log"
        proc = spawn.Process(target=worker, args=(str(job_file), str(log_file)))
        proc.start()
        procs.append((proc, log_file))
    for proc, log_file in procs:
        # A worker stops itself at the deadline after its current item; a hung one is ended.
        wait = None if deadline == float("inf") else max(0.0, deadline - time.time()) + 60
        proc.join(timeout=wait)
        if proc.is_alive():
            proc.terminate()
            proc.join()
        elif proc.exitcode != 0:
            raise RuntimeError(f"decoding failed (exit {proc.exitcode}): see {log_file}")
    return common_hypotheses(out, names, items, nj, tag)


def common_hypotheses(
    out: Path, names: Sequence[str], items: Sequence[Item], nj: int, tag: str = "decode"
) -> dict[str, list[str]]:
    """Join the workers' hypotheses; keep the utterances every model decoded; write them as
    ``exp/<name>/<tag>/<set>/text``. Returns ``{set: [utts]}`` in queue order."""
    from espnet_ddp.tools.datadir import write_kv

    hyps: dict[str, dict[tuple[str, str], str]] = {name: {} for name in names}
    for name in names:
        for j in range(nj):
            path = out / f"{tag}_work" / f"{name}.{j}.hyp"
            for line in path.read_text(encoding="utf-8").splitlines():
                parts = line.split(" ", 2)
                if len(parts) >= 2:
                    hyps[name][(parts[0], parts[1])] = parts[2] if len(parts) == 3 else ""
    kept: dict[str, list[str]] = {}
    for item in items:
        key = (item.test_set, item.utt)
        if all(key in hyps[name] for name in names):
            kept.setdefault(item.test_set, []).append(item.utt)
    for name in names:
        for test_set, utts in kept.items():
            write_kv(out / "exp" / name / tag / test_set / "text",
                     {u: hyps[name][(test_set, u)] for u in utts})  # fmt: skip
    return kept


def score_subset(
    out: Path, data: Path, name: str, decoded: dict[str, list[str]], tag: str = "decode"
) -> dict:
    """WER and CER (%) of one model on the decoded utterances of each set; writes the scores
    under ``exp/<name>/<tag>/<set>/score_{wer,cer}`` and the experiment's ``RESULTS.md`` (every
    tag's).

    ``data`` holds the sets' data directories. The references are cut to the decoded utterances
    (``out/<tag>_refs/<set>``), so an utterance nobody decoded is not counted as deleted.
    """
    from espnet_ddp.tools import score_asr
    from espnet_ddp.tools.datadir import read_kv, write_kv
    from espnet_ddp.tools.write_results_md import parse_result, results_markdown

    exp = out / "exp" / name
    results: dict[str, dict[str, float]] = {}
    for test_set, utts in decoded.items():
        refs = out / f"{tag}_refs" / test_set  # rewritten: an earlier call decoded others
        text, spk = read_kv(data / test_set / "text"), read_kv(data / test_set / "utt2spk")
        write_kv(refs / "text", {u: text[u] for u in utts})
        write_kv(refs / "utt2spk", {u: spk[u] for u in utts})
        sdir = exp / tag / test_set
        results[test_set] = {}
        for metric in ("wer", "cer"):
            with open(os.devnull, "w") as quiet:
                stdout, sys.stdout = sys.stdout, quiet
                try:
                    score_asr.main([
                        "--metric", metric, str(refs / "text"), str(sdir / "text"),
                        str(refs / "utt2spk"), str(sdir / f"score_{metric}"),
                    ])  # fmt: skip
                finally:
                    sys.stdout = stdout
            row = parse_result(sdir / f"score_{metric}" / "result.txt")
            results[test_set][metric] = float(row[6]) if row else float("nan")
    (exp / "RESULTS.md").write_text(results_markdown(exp))
    return results
