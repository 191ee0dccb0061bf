"""espnet_ddp: dynamic data pruning and time-wise dropping for ESPnet2 ASR training."""

__version__ = "0.1.0"
