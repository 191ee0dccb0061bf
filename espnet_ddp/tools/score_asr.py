"""Stage 13: scores one decoded set (WER or CER) with NIST sclite, or a Python fallback.

Writes ``ref.trn`` / ``hyp.trn`` (``TOKENS (speaker-utterance)``, characters as tokens with
``<space>`` between words for CER, as ESPnet does) and ``result.txt``: sclite's full report when
sclite is found (on PATH, at /usr/lib/sctk/bin/sclite, or as ``sctk sclite``), otherwise a report
from ``edit_distance`` with the same summary lines (``Sum/Avg`` percentages, ``Sum`` counts), so
``write_results_md`` reads both. Utterances without a hypothesis are scored as empty output.
As ESPnet's stage 13 does, ``--non_linguistic_symbols FILE`` removes those symbols (e.g.
``<NOISE>``) from references and hypotheses, and ``--cleaner`` applies ESPnet's text cleaner to the
references; ``--sclite_opts`` are extra sclite options (an error with the Python scorer).
Beside ``result.txt`` it writes ``per_utt.tsv`` (:mod:`espnet_ddp.core.utterance_errors`): each
utterance's substitutions, deletions, insertions and reference tokens, from sclite's ``pralign``
alignments where sclite ran, from the Python aligner otherwise; ``compare`` resamples them for
its confidence intervals.

    python -m espnet_ddp.tools.score_asr --metric wer data/test/text decode/test/text \\
        data/test/utt2spk decode/test/score_wer
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from espnet_ddp.core.utterance_errors import FILE_NAME, UttErrors, parse_pralign, write_tsv
from espnet_ddp.tools.datadir import read_kv
from espnet_ddp.tools.edit_distance import Counts, align_counts

SCLITE_PATHS = ("/usr/lib/sctk/bin/sclite", "/usr/local/bin/sclite")


def find_sclite() -> list[str] | None:
    """The command that runs sclite here, or None."""
    found = shutil.which("sclite")
    if found:
        return [found]
    for p in SCLITE_PATHS:
        if os.access(p, os.X_OK):
            return [p]
    if shutil.which("sctk"):
        return ["sctk", "sclite"]
    return None


def tokens(text: str, metric: str) -> list[str]:
    """Scoring units of a transcript: words, or characters with ``<space>`` between words."""
    words = text.split()
    if metric == "wer":
        return words
    out: list[str] = []
    for k, word in enumerate(words):
        if k:
            out.append("<space>")
        out.extend(word)
    return out


def strip_symbols(texts: dict[str, str], symbols: list[str]) -> dict[str, str]:
    """``texts`` with every occurrence of the non-linguistic ``symbols`` removed."""
    out = {}
    for utt, text in texts.items():
        for sym in symbols:
            text = text.replace(sym, " ")
        out[utt] = " ".join(text.split())
    return out


def read_symbols(path: str) -> list[str]:
    """The symbols of an ESPnet non-linguistic symbol list (one per line), longest first."""
    with open(path, encoding="utf-8") as f:
        syms = {line.strip() for line in f if line.strip()}
    return sorted(syms, key=lambda x: (-len(x), x))


def write_trn(path: Path, texts: dict[str, str], utt2spk: dict[str, str], metric: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for utt in sorted(utt2spk):
            f.write(f"{' '.join(tokens(texts.get(utt, ''), metric))} ({utt2spk[utt]}-{utt})\n")


def python_report(ref: dict[str, str], hyp: dict[str, str], utts: list[str], metric: str) -> str:
    """A summary in sclite's layout (``Sum/Avg`` percentage and ``Sum`` count lines)."""
    total, n_words, n_err_snt = Counts(), 0, 0
    for utt in utts:
        r, h = tokens(ref[utt], metric), tokens(hyp.get(utt, ""), metric)
        c = align_counts(r, h)
        total += c
        n_words += len(r)
        n_err_snt += c.errors > 0
    n = max(n_words, 1)
    pct = [100 * x / n for x in (total.corr, total.sub, total.dels, total.ins, total.errors)]
    pct.append(100 * n_err_snt / max(len(utts), 1))
    head = f"| {'SPKR':6} | # Snt # Wrd | Corr    Sub    Del    Ins    Err  S.Err |"
    sum_pct = f"| Sum/Avg| {len(utts):4d} {n_words:6d} | " + " ".join(f"{p:6.1f}" for p in pct)
    counts = (total.corr, total.sub, total.dels, total.ins, total.errors, n_err_snt)
    sum_cnt = f"| Sum    | {len(utts):4d} {n_words:6d} | " + " ".join(f"{x:6d}" for x in counts)
    return "\n".join(
        [
            "Scored by espnet_ddp.tools.score_asr (Python fallback: sclite was not found)",
            "",
            "SYSTEM SUMMARY PERCENTAGES",
            head,
            sum_pct + " |",
            "",
            "SYSTEM SUMMARY COUNTS",
            head,
            sum_cnt + " |",
            "",
        ]
    )


def python_per_utt(
    ref: dict[str, str], hyp: dict[str, str], utts: list[str], metric: str
) -> dict[str, UttErrors]:
    """Each utterance's counts from :func:`align_counts` (sclite's weights)."""
    out = {}
    for utt in utts:
        r = tokens(ref[utt], metric)
        c = align_counts(r, tokens(hyp.get(utt, ""), metric))
        out[utt] = UttErrors(sub=c.sub, dels=c.dels, ins=c.ins, ref=len(r))
    return out


def sclite_per_utt(sclite: list[str], out_dir: Path, utt2spk: dict[str, str],
                   opts: list[str]) -> dict[str, UttErrors] | None:  # fmt: skip
    """Each utterance's counts from sclite's ``pralign`` report (None if sclite fails)."""
    cmd = sclite + opts + ["-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm"]
    cmd += ["-o", "pralign", "-O", str(out_dir), "-n", "per_utt"]
    proc = subprocess.run(cmd, cwd=out_dir, capture_output=True)
    report = out_dir / "per_utt.pra"
    if proc.returncode != 0 or not report.is_file():
        return None
    by_id = parse_pralign(report.read_text(encoding="utf-8", errors="replace"))
    report.unlink()
    ids = {f"{spk}-{utt}".lower(): utt for utt, spk in utt2spk.items()}
    out = {ids.get(i.lower()): e for i, e in by_id.items()}
    return None if None in out or len(out) != len(utt2spk) else out  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metric", choices=["wer", "cer"], required=True)
    parser.add_argument("--scorer", choices=["auto", "sclite", "python"], default="auto")
    parser.add_argument("--non_linguistic_symbols", default="none", help="file, or none")
    parser.add_argument("--cleaner", default="none", help="ESPnet TextCleaner for the references")
    parser.add_argument("--sclite_opts", default="", help="extra sclite options, e.g. '-e utf-8'")
    parser.add_argument("ref", type=Path, help="reference Kaldi text")
    parser.add_argument("hyp", type=Path, help="hypothesis Kaldi text")
    parser.add_argument("utt2spk", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    ref, hyp, utt2spk = read_kv(args.ref), read_kv(args.hyp), read_kv(args.utt2spk)
    utt2spk = {u: s for u, s in utt2spk.items() if u in ref}
    if args.cleaner != "none":
        from espnet2.text.cleaner import TextCleaner

        clean = TextCleaner(args.cleaner)
        ref = {u: clean(t) for u, t in ref.items()}
    if args.non_linguistic_symbols != "none":
        symbols = read_symbols(args.non_linguistic_symbols)
        ref, hyp = strip_symbols(ref, symbols), strip_symbols(hyp, symbols)
    missing = sorted(set(ref) - set(hyp))
    if missing:
        print(
            f"score_asr: warning: {len(missing)} utterance(s) without hypothesis in {args.hyp} "
            f"(scored as empty), e.g. {missing[0]}",
            file=sys.stderr,
        )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_trn(args.out_dir / "ref.trn", ref, utt2spk, args.metric)
    write_trn(args.out_dir / "hyp.trn", hyp, utt2spk, args.metric)
    sclite = find_sclite() if args.scorer != "python" else None
    if args.scorer == "sclite" and sclite is None:
        print("score_asr: sclite not found (apt-get install sctk)", file=sys.stderr)
        return 1
    if args.sclite_opts and sclite is None:
        print(f"score_asr: --sclite_opts {args.sclite_opts!r} need sclite, which is not used here",
              file=sys.stderr)  # fmt: skip
        return 1
    result = args.out_dir / "result.txt"
    if sclite:
        cmd = sclite + shlex.split(args.sclite_opts)
        cmd += ["-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm"]
        cmd += ["-o", "all", "stdout"]
        with open(result, "w", encoding="utf-8") as f:
            proc = subprocess.run(cmd, cwd=args.out_dir, stdout=f, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            print(f"score_asr: sclite failed: {proc.stderr.decode()}", file=sys.stderr)
            return 1
    else:
        report = python_report(ref, hyp, sorted(utt2spk), args.metric)
        result.write_text(report, encoding="utf-8")
    per_utt = None
    if sclite:
        per_utt = sclite_per_utt(sclite, args.out_dir, utt2spk, shlex.split(args.sclite_opts))
    if per_utt is None:
        per_utt = python_per_utt(ref, hyp, sorted(utt2spk), args.metric)
    write_tsv(args.out_dir / FILE_NAME, per_utt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
