"""``--gpu_inference true`` without CUDA is found before stage 1, not after training: asr.sh stops
at once and names ``--gpu_inference false``. (With ``--ngpu 0`` it decodes on the CPU instead:
``test_recipe_batch_types.py``, which has a trained model.) CUDA is hidden with
``CUDA_VISIBLE_DEVICES=""``, so these hold on a GPU machine too."""

from __future__ import annotations

from recipes.corpora import recipe_env, run_recipe, stage_recipe

NO_CUDA = {"CUDA_VISIBLE_DEVICES": ""}


def test_gpu_decoding_without_cuda_stops_before_stage_1(tmp_path):
    """The librispeech recipe's defaults (``--ngpu 1 --gpu_inference true``), no corpus needed."""
    recipe = stage_recipe(tmp_path, "librispeech_ddp")
    env = recipe_env(LIBRISPEECH=str(tmp_path / "none"), **NO_CUDA)
    run = run_recipe(recipe, [], env, timeout=120)
    assert run.returncode != 0
    assert "--gpu_inference true but CUDA is not available here" in run.output, run.output
    assert "decode on the CPU with --gpu_inference false" in run.output
    assert "Stage 1:" not in run.output and not (recipe / "data").exists()


def test_no_check_when_stage_12_does_not_run(tmp_path):
    recipe = stage_recipe(tmp_path, "librispeech_ddp")
    for args in (["--stage", "13", "--stop_stage", "13", "--skip_eval", "true"],
                 ["--stage", "14"]):  # fmt: skip
        run = run_recipe(recipe, args, recipe_env(**NO_CUDA), timeout=120)
        assert run.returncode == 0, run.output
        assert "CUDA" not in run.output
