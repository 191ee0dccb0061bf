"""Stage 5: the token list (``tokens.txt``) for char, word or sentencepiece (bpe/unigram) units.

The list is ``<blank>``, ``<unk>``, the units (most frequent first; ties in code-point order),
``<sos/eos>``, one per line, as ESPnet's ``--token_list`` expects (the three symbols can be renamed:
``--blank``, ``--oov``, ``--sos_eos``). Characters use ``<space>`` for the space, as ESPnet's char
tokenizer does; ``--non_linguistic_symbols FILE`` keeps those symbols (e.g. ``<NOISE>``) whole,
split by ESPnet's own ``CharTokenizer`` so that training sees the same units, and ``--cleaner``
applies ESPnet's text cleaner first. For ``bpe`` a sentencepiece model is trained first
(``<model_prefix>.model``; ``--user_defined_symbols`` and ``--character_coverage`` are passed to
it). Several text files may be given; their lines are pooled.

    python -m espnet_ddp.tools.token_list --token_type char data/train/text data/token_list/char
    python -m espnet_ddp.tools.token_list --token_type bpe --nbpe 5000 --bpemode unigram \\
        data/train/text data/token_list/bpe_unigram5000
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from espnet_ddp.tools.datadir import bad_utf8

SPECIALS_HEAD = ["<blank>", "<unk>"]  # the defaults of --blank, --oov
SPECIALS_TAIL = ["<sos/eos>"]  # the default of --sos_eos


def read_texts(path: Path) -> list[str]:
    """The transcripts of a Kaldi ``text`` file (the utterance ids are dropped); ``ValueError``
    names the file, line and utterance where it is not UTF-8."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 1)
                if len(parts) == 2 and parts[1].strip():
                    out.append(" ".join(parts[1].split()))
    except UnicodeDecodeError:
        raise ValueError(bad_utf8(path) or f"{path}: not UTF-8") from None
    return out


def count_units(texts: list[str], token_type: str, nlsyms: str | None = None) -> Counter[str]:
    """Unit frequencies of ``char`` or ``word`` units (``nlsyms``: file of symbols kept whole)."""
    c: Counter[str] = Counter()
    if token_type == "char" and nlsyms is not None:
        from espnet2.text.char_tokenizer import CharTokenizer

        tok = CharTokenizer(non_linguistic_symbols=nlsyms, space_symbol="<space>")
        for t in texts:
            c.update(tok.text2tokens(t))
        return c
    for t in texts:
        if token_type == "char":
            c.update("<space>" if ch == " " else ch for ch in t)
        else:
            c.update(t.split())
    return c


def ranked(counter: Counter[str]) -> list[str]:
    """Units by decreasing frequency, ties in code-point order."""
    return [u for u, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def train_bpe(
    texts: list[str],
    out_dir: Path,
    nbpe: int,
    mode: str,
    input_size: int,
    coverage: float = 1.0,
    user_symbols: str = "",
) -> list[str]:
    """Trains ``out_dir/bpe.model``; returns its pieces without sentencepiece's special ones."""
    import sentencepiece as spm

    corpus = out_dir / "train.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out_dir / "bpe"),
        vocab_size=nbpe,
        model_type=mode,
        character_coverage=coverage,
        input_sentence_size=input_size,
        shuffle_input_sentence=True,
        minloglevel=2,
        **({"user_defined_symbols": user_symbols.split(",")} if user_symbols else {}),
    )
    sp = spm.SentencePieceProcessor(model_file=str(out_dir / "bpe.model"))
    specials = {"<unk>", "<s>", "</s>"}
    return [p for p in (sp.id_to_piece(i) for i in range(sp.get_piece_size())) if p not in specials]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--token_type", choices=["char", "word", "bpe"], required=True)
    parser.add_argument("--nbpe", type=int, default=30)
    parser.add_argument("--bpemode", choices=["unigram", "bpe"], default="unigram")
    parser.add_argument("--input_sentence_size", type=int, default=100_000_000)
    parser.add_argument("--character_coverage", type=float, default=1.0)
    parser.add_argument("--user_defined_symbols", default="", help="bpe: 'a,b' kept whole")
    parser.add_argument("--non_linguistic_symbols", default="none", help="char: file, or none")
    parser.add_argument("--cleaner", default="none", help="char/word: ESPnet's TextCleaner name")
    parser.add_argument("--blank", default="<blank>")
    parser.add_argument("--oov", default="<unk>")
    parser.add_argument("--sos_eos", default="<sos/eos>")
    parser.add_argument("text", type=Path, nargs="+", help="Kaldi text file(s) of the training set")
    parser.add_argument("out_dir", type=Path, help="writes tokens.txt (and bpe.model) here")
    args = parser.parse_args(argv)
    try:
        texts = [t for path in args.text for t in read_texts(path)]
    except (OSError, ValueError) as e:
        print(f"token_list: {e}", file=sys.stderr)
        return 1
    if not texts:
        print(f"token_list: no transcripts in {' '.join(map(str, args.text))}", file=sys.stderr)
        return 1
    nlsyms = None if args.non_linguistic_symbols == "none" else args.non_linguistic_symbols
    if nlsyms is not None and not Path(nlsyms).is_file():
        print(f"token_list: --non_linguistic_symbols: no such file {nlsyms}", file=sys.stderr)
        return 1
    if args.cleaner != "none" and args.token_type != "bpe":
        from espnet2.text.cleaner import TextCleaner

        clean = TextCleaner(args.cleaner)
        texts = [" ".join(clean(t).split()) for t in texts]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.token_type == "bpe":
        units = train_bpe(texts, args.out_dir, args.nbpe, args.bpemode, args.input_sentence_size,
                          args.character_coverage, args.user_defined_symbols)  # fmt: skip
    else:
        units = ranked(count_units(texts, args.token_type, nlsyms))
    head, tail = [args.blank, args.oov], [args.sos_eos]
    units = [u for u in units if u not in head + tail]
    tokens = head + units + tail
    (args.out_dir / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    print(f"token_list: {len(tokens)} {args.token_type} tokens -> {args.out_dir}/tokens.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
