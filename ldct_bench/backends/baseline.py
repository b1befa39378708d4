"""`noise-baseline`: the offline reference every LMM is held against.

The noise level of each slice (from its pixels) is mapped to a score by a decreasing isotonic
fit on the train split, interpolated between fitted points so that few predictions tie.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ldct_bench.backends.base import BackendError, Completion, Request
from ldct_bench.config.schema import ModelCard
from ldct_bench.data.task import Task, require_train
from ldct_bench.metadata.noise import noise_column
from ldct_bench.reading.answer import Answer


def isotonic_decreasing(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators fit of y as a non-increasing function of x; knots sorted by x."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], -y[order]  # fit non-decreasing on -y
    blocks: list[list[float]] = []  # [sum, count]
    for value in ys:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted = np.concatenate([np.full(int(c), -s / c) for s, c in blocks])
    return xs, fitted


class NoiseBaseline:
    remote = False  # nothing is sent: the answer comes from the pixels

    def __init__(self, card: ModelCard):
        self.card = card
        self._noise: dict[str, float] = {}
        self._knots: tuple[np.ndarray, np.ndarray] | None = None

    async def start(self, task: Task) -> None:
        require_train(task, f"model {self.card.name}")
        self._noise = noise_column(task)
        train = task.items("train")
        x = np.array([self._noise[item.id] for item in train])
        y = np.array([item.target for item in train])
        xs, fitted = isotonic_decreasing(x, y)
        unique_x = np.unique(xs)
        self._knots = (unique_x, np.array([fitted[xs == v].mean() for v in unique_x]))

    def prepare(self, request: Request) -> Request:
        return request  # nothing is sent: the answer comes from the pixels

    async def complete(self, request: Request) -> Completion:
        if self._knots is None:
            raise BackendError("baseline used before start()")
        level = self._noise[request.item.id]
        score = float(np.clip(np.interp(level, *self._knots), 0.0, 4.0))
        explanation = f"estimated noise level {level:.4f} mapped by an isotonic fit on train"
        text = json.dumps({"score": round(score, 3), "category": None, "explanation": explanation})
        return Completion(text=text, answer=Answer(round(score, 3), None, explanation, "pixels"))

    async def close(self) -> None:
        return None

    def identity(self) -> dict[str, Any]:
        return {"model_id": self.card.model_id, "backend": "baseline"}
