"""How much audio an utterance needs so that the encoder still emits enough frames for CTC."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace

import numpy as np

# Time reduction of ESPnet's encoder input layers (``encoder_conf.input_layer``).
_SUBSAMPLING = {
    "conv1d2": 2,
    "conv2d1": 1,
    "conv2d2": 2,
    "conv2d": 4,
    "vgg2l": 4,
    "conv2d6": 6,
    "conv2d8": 8,
    "linear": 1,
    "embed": 1,
    None: 1,
}


def token_frames_needed(tokens: np.ndarray) -> int:
    """Encoder frames CTC needs for this label sequence: labels plus adjacent repeats.

    >>> token_frames_needed(np.array([5, 5, 7, 7, 7]))
    8
    """
    tokens = np.asarray(tokens).reshape(-1)
    repeats = int(np.count_nonzero(tokens[1:] == tokens[:-1])) if tokens.size > 1 else 0
    return int(tokens.size) + repeats


@dataclass(frozen=True)
class MinKeepRule:
    """Minimum number of waveform samples that keeps CTC feasible for a token sequence.

    CTC over ``L`` tokens with ``R`` adjacent repeats needs at least ``L + R`` encoder frames.
    One encoder frame covers :attr:`frame_samples` samples and :attr:`edge_samples` absorb the
    edges; ``margin_frames`` more frames cover the rounding. Both are measured on the built model
    (``measured``, see :mod:`espnet_ddp.espnet.model_frames`); without a measurement they come
    from the options: ``hop_length * subsampling`` and one FFT window.

    >>> MinKeepRule(hop_length=128, subsampling=4).samples_for(np.array([5, 5, 7]))
    3584
    >>> MinKeepRule(measured=(640, 300)).samples_for_count(3)
    3500
    """

    hop_length: int = 128
    subsampling: int = 4
    n_fft: int = 512
    margin_frames: int = 2
    measured: tuple[int, int] | None = None  # (samples per encoder frame, edge samples)

    @property
    def frame_samples(self) -> int:
        """Waveform samples per encoder frame."""
        return self.measured[0] if self.measured else self.hop_length * self.subsampling

    @property
    def edge_samples(self) -> int:
        """Samples beyond whole encoder frames that the frontend and encoder consume."""
        return self.measured[1] if self.measured else self.n_fft

    def with_measured(self, frame_samples: int, edge_samples: int) -> MinKeepRule:
        """This rule with the framing measured on the model."""
        if frame_samples < 1 or edge_samples < 0:
            raise ValueError(
                f"measured framing must be >= 1 samples per frame and >= 0 edge samples, "
                f"got {frame_samples}, {edge_samples}"
            )
        return replace(self, measured=(int(frame_samples), int(edge_samples)))

    def samples_for_count(self, num_frames_needed: int) -> int:
        return (num_frames_needed + self.margin_frames) * self.frame_samples + self.edge_samples

    def samples_for(self, tokens: np.ndarray) -> int:
        """Samples needed for this exact token sequence (repeats counted)."""
        return self.samples_for_count(token_frames_needed(tokens))

    def samples_for_counts(self, frames_needed: np.ndarray) -> np.ndarray:
        """:meth:`samples_for_count` of many utterances at once (int64)."""
        frames = np.asarray(frames_needed, dtype=np.int64)
        return (frames + self.margin_frames) * self.frame_samples + self.edge_samples

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MinKeepRule:
        """The rule from ``--frontend_conf``/``--encoder_conf`` alone (ESPnet's default STFT
        frontend and a convolutional input layer); :mod:`model_frames` measures the model."""
        frontend_conf = getattr(args, "frontend_conf", None) or {}
        encoder_conf = getattr(args, "encoder_conf", None) or {}
        layer = encoder_conf.get("input_layer", "conv2d")
        return cls(
            hop_length=int(frontend_conf.get("hop_length", 128)),
            subsampling=_SUBSAMPLING.get(layer, 8),
            n_fft=int(frontend_conf.get("n_fft", 512)),
        )
