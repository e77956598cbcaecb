"""Warm-up before training: the first use of each operation and shape, done before the clock starts.

On a GPU the first call of a kernel loads it and cuDNN picks its algorithms per shape; with
torch.compile the first call per shape compiles. (A training step replayed from a CUDA graph is
recorded when its batch size first comes: cuda_graphs.py times that apart itself.) Timed apart,
training time is training time.
"""

import copy

import torch

from digitlab.learning.learner import Learner
from digitlab.models import unwrap

CALLS = 3  # per shape: enough for CUDA graphs to be replaying when training starts


def warm_up(learn: Learner) -> None:
    """Run each batch shape of training (augmentation, forward, backward, an optimizer step) and
    of validation `CALLS` times, then put the weights, BatchNorm statistics and random generators back.

    For a Learner whose loaders hold tensors (as `digitlab train` builds them); the sizes are the
    loaders' first and last batches'.
    """
    model, device, augment = learn.model, learn.device, learn.dls.train.transform
    saved = copy.deepcopy(unwrap(model).state_dict())
    generator = getattr(augment, "generator", None)  # the augmentation's own random numbers
    drawn = generator.get_state() if generator is not None else None
    opt = learn.opt_func(model.parameters(), learn.lr)  # thrown away, with the velocities it makes
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for training, dl in ((True, learn.dls.train), (False, learn.dls.valid)):
            model.train(training)
            x, y = dl.tensors  # the first images of each size: the loaders' generators are left alone
            sizes = {dl.batch_len(0), dl.batch_len(len(dl) - 1)}  # e.g. {128, 112}: full and last batch
            for n in sorted([*sizes] * CALLS):  # each size CALLS times in a row
                xb = augment(x[:n]) if training and augment else x[:n]
                with torch.set_grad_enabled(training), learn.autocast_context():
                    loss = learn.loss_func(model(xb).float(), y[:n])
                if training:
                    loss.backward()
                    opt.step()
    model.zero_grad(set_to_none=True)
    unwrap(model).load_state_dict(saved)
    if generator is not None:
        generator.set_state(drawn)
