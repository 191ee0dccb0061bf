"""``utt2category`` through asr.sh stages 2-4: speed copies keep their category, stage 3 copies the
file into ``dump/raw/org/<set>``, stage 4 restricts it to the kept utterances, so the training
set's ``dump/raw/<set>/utt2category`` (where ESPnet and the plugin read it) matches its wav.scp.

Budget: about 3 s (eight noise utterances, sox speed copies, flac formatting).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from recipes.corpora import missing_tools, recipe_env, run_recipe, stage_recipe

# utt id -> (seconds, category); u3 is shorter than --min_wav_duration 0.3 at both speeds
TRAIN = {"u1": (0.5, "en"), "u2": (0.6, "fr"), "u3": (0.2, "fr"), "u4": (0.7, "en")}
VALID = {"v1": (0.5, "en"), "v2": (0.5, "fr")}


def write_set(d: Path, utts: dict[str, tuple[float, str]], categories: bool) -> None:
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, lines in (("wav.scp", []), ("text", []), ("utt2spk", []), ("utt2category", [])):
        for utt, (seconds, category) in sorted(utts.items()):
            if name == "wav.scp":
                wav = d / f"{utt}.wav"
                sf.write(wav, (0.1 * rng.standard_normal(int(16000 * seconds))), 16000)
                lines.append(f"{utt} {wav}")
            else:
                lines.append(f"{utt} {dict(text='a b', utt2spk=utt, utt2category=category)[name]}")
        if name != "utt2category" or categories:
            (d / name).write_text("\n".join(lines) + "\n")
    (d / "spk2utt").write_text("".join(f"{u} {u}\n" for u in sorted(utts)))


def read(path: Path) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_utt2category_reaches_dump_raw_filtered(tmp_path):
    missing = missing_tools("sox")
    if missing:
        pytest.skip("sox is not installed")
    recipe = stage_recipe(tmp_path, "librispeech_ddp")
    write_set(recipe / "data" / "train_clean_100", TRAIN, categories=True)
    write_set(recipe / "data" / "dev", VALID, categories=False)
    write_set(recipe / "data" / "test_clean", VALID, categories=True)
    run = run_recipe(
        recipe,
        ["--stage", "2", "--stop_stage", "4", "--nj", "1", "--test_sets", "test_clean",
         "--speed_perturb_factors", "0.9 1.0", "--min_wav_duration", "0.3"],
        recipe_env(),
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.report(recipe)
    dump = recipe / "dump" / "raw"
    got = read(dump / "train_clean_100_sp" / "utt2category")
    expected = {
        p + u: c for p in ("", "sp0.9-") for u, (_, c) in TRAIN.items() if u != "u3"
    }
    assert got == expected
    assert set(got) == set(read(dump / "train_clean_100_sp" / "wav.scp"))
    assert len(read(dump / "org" / "train_clean_100_sp" / "utt2category")) == 8
    assert not (dump / "dev" / "utt2category").exists()  # none in data/dev: none written
    assert read(dump / "test_clean" / "utt2category") == {"v1": "en", "v2": "fr"}
