"""The full benchmark's report: one row per variant (time, steps, audio, accuracy, WER/CER) and
the verdict on its target for (d).

Responsible for the Markdown of ``RESULTS.md`` from the report dict :mod:`gpu.full` builds. Not
responsible for the figures (:mod:`gpu.figures`, :mod:`gpu.decoding`).
"""

from __future__ import annotations

from .environment import environment_line
from .report import banner, cell, model_sentence, sets_phrase

TARGET_RUN, TARGET_SPEEDUP, TARGET_WER = "d_e2h_drop20", 1.8, 0.05


def target_sentence(base: dict, d: dict, tests: list[str]) -> str:
    """(d) >= 1.8x faster than (a) in total wall time, with WER within 5% relative."""
    speed = base["timing"]["total_wall_seconds"] / max(d["timing"]["total_wall_seconds"], 1e-9)
    rel = [
        (d["scores"][x]["wer"] - base["scores"][x]["wer"]) / max(base["scores"][x]["wer"], 1e-9)
        for x in tests
    ]
    ok = speed >= TARGET_SPEEDUP and all(r <= TARGET_WER for r in rel)
    return (
        f"Target (d) >= {TARGET_SPEEDUP}x faster than (a) with WER within "
        f"{100 * TARGET_WER:.0f}% relative: speed-up {speed:.2f}x, WER change "
        + ", ".join(f"{t} {100 * r:+.0f}%" for t, r in zip(tests, rel))
        + f" -> {'met' if ok else 'NOT met'}."
    )


def markdown(report: dict, small: bool) -> str:
    """The whole report (the caller appends the benchmark's duration)."""
    env, plan, rows = report["environment"], report["plan"], report["variants"]
    tests = report["test_sets"]
    base = rows[report.get("baseline", "a_full")]
    lines = ["# GPU benchmark results", ""]
    lines += banner(small, "tiny corpus and model on the CPU: the speed-ups and error rates "
                    "below say nothing about the GPU targets")  # fmt: skip
    lines += [
        environment_line(env),
        "",
        f"Command: `{report['command']}`. Corpus: {report['corpus_hours']:.2f} h of training "
        f"speech ({plan['num_train']} utterances), {plan['num_dev']} dev, test sets "
        f"{sets_phrase(tests, plan['num_test'])} with voices and sentences held out of training.",
        model_sentence(plan, report["params_m"], bool(report["ngpu"])),
        f"Budget: {report['max_epoch']} epochs for every run (baseline valid accuracy "
        f"{'reached a plateau' if report['baseline_plateau'] else 'had NOT reached a plateau'}"
        f": gain < {plan['plateau_delta']} over the last {plan['plateau_window']} epochs). "
        "Pruned and dropped runs use `lr_trajectory=epoch` (LR schedule per epoch as on full "
        "data). Decoding: stock `espnet2.bin.asr_inference`, beam "
        f"{plan['beam']}, CTC weight 0.3, no LM, model `valid.acc.ave.pth` "
        f"(best {plan['nbest']} by valid accuracy).",
        "",
        "Median epoch = median train-loop seconds (the plugin's `train_seconds`) of epochs 2+; "
        "total = sum of epoch wall times from `train.log` (train, validation, checkpointing; "
        "start-up excluded); speed-up against (a) on total.",
        "",
    ]
    head = "| run | median epoch (s) | total wall (s) | speed-up | steps/epoch | audio fed (h) "
    head += "| valid acc | " + " | ".join(f"WER/CER {t} (%)" for t in tests) + " | GPU util |"
    lines += [head, "|" + "---|" * (8 + len(tests))]
    for row in rows.values():
        t = row["timing"]
        speed = base["timing"]["total_wall_seconds"] / max(t["total_wall_seconds"], 1e-9)
        errs = " | ".join(
            f"{row['scores'][x]['wer']:.1f} / {row['scores'][x]['cer']:.1f}" for x in tests
        )
        gpu = row.get("gpu")
        util = f"{gpu['util_mean']:.0f}%" if gpu else "n/a"
        lines.append(
            f"| {row['label']} | {cell(t['median_train_seconds'], '.2f')} "
            f"| {t['total_wall_seconds']:.1f} | {speed:.2f}x | {cell(t['median_steps'], '.0f')} "
            f"| {t['fed_hours']:.3f} | {cell(row['valid_acc'], '.3f')} | {errs} | {util} |"
        )
    if TARGET_RUN in rows:
        lines += ["", target_sentence(base, rows[TARGET_RUN], tests)]
    return "\n".join(lines) + "\n"
