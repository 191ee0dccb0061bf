"""Stage 5: the token list (``tokens.txt``) for char, word or sentencepiece (bpe/unigram) units.

The list is ``<blank>``, ``<unk>``, the units (most frequent first; ties in code-point order),
``<sos/eos>``, one per line, as ESPnet's ``--token_list`` expects. Characters use ``<space>`` for
the space, as ESPnet's char tokenizer does. For ``bpe`` a sentencepiece model is trained first
(``<model_prefix>.model``).

    python -m espnet_ddp.tools.token_list --token_type char data/train/text data/token_list/char
    python -m espnet_ddp.tools.token_list --token_type bpe --nbpe 5000 --bpemode unigram \\
        data/train/text data/token_list/bpe_unigram5000
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

SPECIALS_HEAD = ["<blank>", "<unk>"]
SPECIALS_TAIL = ["<sos/eos>"]


def read_texts(path: Path) -> list[str]:
    """The transcripts of a Kaldi ``text`` file (the utterance ids are dropped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 1)
            if len(parts) == 2 and parts[1].strip():
                out.append(" ".join(parts[1].split()))
    return out


def count_units(texts: list[str], token_type: str) -> Counter[str]:
    """Unit frequencies for ``char`` or ``word`` units."""
    c: Counter[str] = Counter()
    for t in texts:
        if token_type == "char":
            c.update("<space>" if ch == " " else ch for ch in t)
        else:
            c.update(t.split())
    return c


def ranked(counter: Counter[str]) -> list[str]:
    """Units by decreasing frequency, ties in code-point order."""
    return [u for u, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def train_bpe(texts: list[str], out_dir: Path, nbpe: int, mode: str, input_size: int) -> list[str]:
    """Trains ``out_dir/bpe.model``; returns its pieces without sentencepiece's special ones."""
    import sentencepiece as spm

    corpus = out_dir / "train.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(out_dir / "bpe"),
        vocab_size=nbpe,
        model_type=mode,
        character_coverage=1.0,
        input_sentence_size=input_size,
        shuffle_input_sentence=True,
        minloglevel=2,
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
    parser.add_argument("text", type=Path, help="Kaldi text file of the training set")
    parser.add_argument("out_dir", type=Path, help="writes tokens.txt (and bpe.model) here")
    args = parser.parse_args(argv)
    texts = read_texts(args.text)
    if not texts:
        print(f"token_list: no transcripts in {args.text}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.token_type == "bpe":
        units = train_bpe(texts, args.out_dir, args.nbpe, args.bpemode, args.input_sentence_size)
    else:
        units = ranked(count_units(texts, args.token_type))
    units = [u for u in units if u not in SPECIALS_HEAD + SPECIALS_TAIL]
    tokens = SPECIALS_HEAD + units + SPECIALS_TAIL
    (args.out_dir / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    print(f"token_list: {len(tokens)} {args.token_type} tokens -> {args.out_dir}/tokens.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
