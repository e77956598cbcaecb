"""Batching concurrent requests: one model call for every digit that arrives within a few milliseconds.

Under load, calling the model once per request wastes most of its time on per-call overhead
(one image or thirty cost nearly the same). Here each request hands its prepared 28x28 digit to
the batcher and waits; the first digit of a batch starts a timer of `window` seconds, and when
it fires (or `max_batch` digits are waiting) the model runs once, in a worker thread, so the event
loop goes on decoding the next requests meanwhile. One model call runs at a time: digits that
arrive during a call form the next batch, so one task does all the model calls.
"""

import asyncio

import numpy as np
import torch
from starlette.concurrency import run_in_threadpool

from digitlab.inference.predictor import Predictor
from digitlab.web.monitoring import BATCH


class Batcher:
    def __init__(self, predictor: Predictor, window: float = 0.002, max_batch: int = 64):
        self.predictor, self.window, self.max_batch = predictor, window, max_batch
        self.pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.worker: asyncio.Task | None = None  # the one task calling the model, while it runs

    async def probs(self, digit_image: np.ndarray) -> torch.Tensor:
        """The ten probabilities for one MNIST-style digit, computed in a batch with its neighbours."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((digit_image, future))
        if self.worker is None:  # a running worker takes this digit with its next batch
            if len(self.pending) >= self.max_batch:
                self._start()
            elif self.timer is None:
                self.timer = loop.call_later(self.window, self._start)
        return await future

    def _start(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        """Batches until none is waiting: the digits that arrive during a model call form the next."""
        while self.pending:
            batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
            BATCH.observe(len(batch))
            try:
                probs = await run_in_threadpool(self.predictor.probs, np.stack([d for d, _ in batch]))
            except Exception as e:  # noqa: BLE001 (every request of the batch gets the error)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            for (_, future), p in zip(batch, probs, strict=True):
                if not future.done():  # a client that went away cancelled its future
                    future.set_result(p)
        self.worker = None
