"""CTC greedy decoding of many models, in batches: the sweep's fast search for every test set.

ESPnet's joint CTC/attention beam search decodes one utterance at a time; on the GPU machine, 16
processes sharing the GPU managed about 2 s per utterance and model each (2026-12-04), so the
sweep's 11 models x 1,600 utterances would take over half an hour. CTC greedy search is the
cheap search the comparisons may use (DESIGN.md: a lab may decode more cheaply if the ranking
does not move, which the beam-search cross-check on dev shows): ESPnet's own model
(``ASRTask.build_model_from_file``), its encoder on padded batches, ``model.ctc.argmax``, repeats
merged and blanks (id 0) removed, and ESPnet's token converter and tokenizer back to text, as
``Speech2Text`` does for its hypotheses.

Responsible for decoding every model on every set into ``exp/<name>/<tag>/<set>/text``, one
process, models one after the other, audio read once. Not responsible for scoring
(:func:`gpu.ordered_decoding.score_subset`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .ordered_decoding import model_file, queue

TAG = "decode_ctc_greedy"
BATCH_SECONDS = 200.0  # audio per batch


def collapse(ids: Sequence[int], blank: int = 0) -> list[int]:
    """CTC's greedy path to labels: merge repeats, then drop blanks.

    >>> collapse([0, 5, 5, 0, 5, 3, 3, 0])
    [5, 5, 3]
    """
    out, previous = [], None
    for i in ids:
        if i != previous and i != blank:
            out.append(int(i))
        previous = i
    return out


def batches(lengths: Sequence[int], max_samples: int) -> list[list[int]]:
    """Indices grouped into batches of at most ``max_samples`` padded samples, longest first.

    >>> batches([10, 40, 20, 30], 60)
    [[1], [3, 2], [0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out: list[list[int]] = []
    for i in order:
        if out and lengths[out[-1][0]] * (len(out[-1]) + 1) <= max_samples:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def decode_greedy(
    out: Path, names: Sequence[str], sets: Sequence[tuple[str, Path]], ngpu: int,
    tag: str = TAG,
) -> dict[str, list[str]]:  # fmt: skip
    """Decode every utterance of ``sets`` with every model of ``names`` (``out/exp/<name>``);
    writes ``exp/<name>/<tag>/<set>/text``; returns ``{set: [utterances]}``."""
    import soundfile
    import torch
    from espnet2.tasks.asr import ASRTask
    from espnet2.text.build_tokenizer import build_tokenizer
    from espnet2.text.token_id_converter import TokenIDConverter

    from espnet_ddp.tools.datadir import write_kv

    device = "cuda" if ngpu else "cpu"
    items = queue(sets)
    audio = [soundfile.read(item.wav, dtype="float32")[0] for item in items]
    lengths = [len(a) for a in audio]
    groups = batches(lengths, int(BATCH_SECONDS * 16000))
    for name in names:
        exp = out / "exp" / name
        model, train_args = ASRTask.build_model_from_file(
            exp / "config.yaml", model_file(exp), device
        )
        model.eval()
        converter = TokenIDConverter(token_list=train_args.token_list)
        tokenizer = build_tokenizer(token_type=train_args.token_type)
        texts: dict[int, str] = {}
        with torch.no_grad():
            for group in groups:
                longest = max(lengths[i] for i in group)
                speech = torch.zeros(len(group), longest)
                for row, i in enumerate(group):
                    speech[row, : lengths[i]] = torch.from_numpy(audio[i])
                speech_lengths = torch.tensor([lengths[i] for i in group])
                enc, enc_lengths = model.encode(speech.to(device), speech_lengths.to(device))
                best = model.ctc.argmax(enc).cpu()
                for row, i in enumerate(group):
                    ids = collapse(best[row, : int(enc_lengths[row])].tolist())
                    texts[i] = tokenizer.tokens2text(converter.ids2tokens(ids))
        for test_set, _ in sets:
            write_kv(exp / tag / test_set / "text",
                     {it.utt: " ".join(texts[i].split()) for i, it in enumerate(items)
                      if it.test_set == test_set})  # fmt: skip
        del model
        if ngpu:
            torch.cuda.empty_cache()
    decoded: dict[str, list[str]] = {}
    for item in items:
        decoded.setdefault(item.test_set, []).append(item.utt)
    return decoded
