"""The sizes of one GPU benchmark run, and the training YAML they fill in.

Responsible for :class:`Plan` (corpus sizes, epochs, model, optimizer, batching, decoding), the
ESPnet training config it writes, and the two base plans the modes derive theirs from:
:data:`FULL` (the LibriSpeech-100 conformer) and :data:`SMALL` (a tiny CPU smoke run). Not
responsible for what a variant changes (:mod:`gpu.variants`) nor for each mode's own sizes
(:mod:`gpu.quick`, :mod:`gpu.sweep`, :mod:`gpu.full`).

>>> import yaml
>>> conf = yaml.safe_load(SMALL.config())
>>> conf["encoder_conf"]["num_blocks"], conf["scheduler_conf"], conf["batch_bins"]
(1, {'warmup_steps': 20}, 150000)
"""

from __future__ import annotations

import dataclasses

CONFIG = """\
# Conformer encoder ({blocks}x{dim}), transformer decoder ({dec_blocks}x{dec_ffn}), CTC/attention.
frontend_conf: {{n_fft: 512, hop_length: 160, win_length: 400{mels}}}
{specaug_block}encoder: conformer
encoder_conf:
    output_size: {dim}
    attention_heads: {heads}
    linear_units: {ffn}
    num_blocks: {blocks}
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    attention_dropout_rate: 0.1
    input_layer: conv2d
    normalize_before: true
    macaron_style: true
    rel_pos_type: latest
    pos_enc_layer_type: rel_pos
    selfattention_layer_type: rel_selfattn
    activation_type: swish
    use_cnn_module: true
    cnn_module_kernel: {kernel}
decoder: transformer
decoder_conf:
    attention_heads: {heads}
    linear_units: {dec_ffn}
    num_blocks: {dec_blocks}
    dropout_rate: 0.1
    positional_dropout_rate: 0.1
    self_attention_dropout_rate: 0.1
    src_attention_dropout_rate: 0.1
model_conf:
    ctc_weight: 0.3
    lsm_weight: 0.1
    length_normalized_loss: false
optim: adam
optim_conf: {{lr: {lr}, weight_decay: 0.000001}}
scheduler: warmuplr
scheduler_conf: {{warmup_steps: {warmup}}}
batch_type: numel
batch_bins: {batch_bins}
accum_grad: 1
grad_clip: 5
num_workers: {workers}
max_cache_size: 0
best_model_criterion:
-   - valid
    - acc
    - max
keep_nbest_models: {nbest}
"""


SPECAUG = """\
specaug: specaug
specaug_conf:
    apply_time_warp: true
    time_warp_window: 5
    time_warp_mode: bicubic
    apply_freq_mask: true
    freq_mask_width_range: [0, 27]
    num_freq_mask: 2
    apply_time_mask: true
    time_mask_width_ratio_range: [0.0, 0.05]
    num_time_mask: 5
"""


@dataclasses.dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run."""

    num_train: int
    num_dev: int
    num_test: int  # per test set; 0: no test sets (nothing decoded)
    epochs: int  # initial budget; the full benchmark grows it while the baseline still improves
    max_epochs: int
    extend_by: int
    plateau_window: int
    plateau_delta: float  # valid acc gain over the window below which it counts as a plateau
    dim: int
    heads: int
    ffn: int
    blocks: int
    kernel: int
    dec_blocks: int
    dec_ffn: int
    lr: float
    warmup: int  # optimizer steps of warmuplr (and of the fitted schedule's warm-up)
    batch_bins: int
    workers: int
    nbest: int
    beam: int
    anneal_epochs: int
    maxlenratio: float = 0.0  # 0: hypotheses end by themselves (an untrained model never does)
    num_test_indomain: int = 0  # test_indomain: training voices, held-out sentences
    heldout_sets: tuple[str, ...] = ("test_espeak", "test_flite")  # num_test each
    beam_utts: int = 0  # beam-search cross-check: the first N dev utterances (0: until deadline)
    specaug: bool = True  # SpecAugment (the LibriSpeech recipes'); off: the mini recipe's model
    n_mels: int = 80

    def config(self) -> str:
        """The training YAML (``config.yaml`` of the run's output folder)."""
        specaug = SPECAUG if self.specaug else ""
        mels = "" if self.n_mels == 80 else f", n_mels: {self.n_mels}"  # 80: ESPnet's default
        return CONFIG.format(**dataclasses.asdict(self), specaug_block=specaug, mels=mels)

    def replace(self, **changes: object) -> Plan:
        """A copy with ``changes``; None values are ignored (unset command-line overrides)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


# About 14 h of speech (2.7 s per utterance), the LibriSpeech-100 conformer, 16e6 numel bins.
FULL = Plan(
    num_train=19000, num_dev=500, num_test=300, epochs=30, max_epochs=50, extend_by=5,
    plateau_window=3, plateau_delta=0.002, dim=256, heads=4, ffn=1024, blocks=12, kernel=31,
    dec_blocks=6, dec_ffn=2048, lr=0.002, warmup=600, batch_bins=16_000_000, workers=8,
    nbest=10, beam=10, anneal_epochs=5,
)  # fmt: skip
SMALL = Plan(
    num_train=60, num_dev=10, num_test=6, epochs=3, max_epochs=3, extend_by=0,
    plateau_window=2, plateau_delta=0.002, dim=32, heads=2, ffn=64, blocks=1, kernel=7,
    dec_blocks=1, dec_ffn=64, lr=0.002, warmup=20, batch_bins=150_000, workers=0,
    nbest=1, beam=2, anneal_epochs=1,
)  # fmt: skip
