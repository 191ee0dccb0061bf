"""Starting an epoch's loader ahead of the loop leaves ESPnet's random state as it was."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from espnet_ddp.espnet.pruned_iter_factory import PlannedEpochIterator


def test_a_started_iterator_draws_the_seed_a_fresh_one_would():
    loader = DataLoader(list(range(8)), batch_size=2, num_workers=0)
    torch.manual_seed(7)  # ESPnet: set_all_random_seed(seed + epoch), then iter()
    fresh = iter(loader)
    state_after_fresh = torch.get_rng_state()
    fresh_batches = [b.tolist() for b in fresh]

    torch.manual_seed(123)  # the previous epoch: training, then validation
    before = torch.get_rng_state()
    ahead = PlannedEpochIterator(loader, plan=None, run=None)
    ahead.start(7)
    assert torch.equal(torch.get_rng_state(), before)  # validation sees its own random state
    torch.manual_seed(7)
    started = iter(ahead)
    assert started._base_seed == fresh._base_seed  # the workers are seeded alike
    assert torch.equal(torch.get_rng_state(), state_after_fresh)  # so is the training step
    assert [b.tolist() for b in started] == fresh_batches
    assert iter(ahead) is not started  # a second pass builds a fresh iterator
