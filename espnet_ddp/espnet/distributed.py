"""The few torch.distributed calls the plugin needs, as ESPnet launched them (gather, broadcast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in the job (rank 0 of 1 without torch.distributed)."""

    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def current(cls) -> RankInfo:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return cls(torch.distributed.get_rank(), torch.distributed.get_world_size())
        return cls()


def gather_objects(obj: Any, ranks: RankInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ranks.distributed:
        return [obj]
    out: list[Any] = [None] * ranks.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ranks: RankInfo, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (the others' ``obj`` is ignored)."""
    if not ranks.distributed:
        return obj
    box = [obj if ranks.rank == src else None]
    torch.distributed.broadcast_object_list(box, src=src)
    return box[0]
