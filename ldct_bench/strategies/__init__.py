"""Strategies build each test item's chat: zero_shot, few_shot (k examples) and error_feedback."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Mapping

from ..backends.base import Request
from ..config import MetadataConfig, StrategyConfig, effective_shots
from ..data.task import Item, Task
from ..errors import UserError
from .prompt import image_turn, instructions, reference_answer
from .selection import check_policy, item_rng, select

QUERY_LEAD = "Rate the quality of this slice."


class FewShot:
    """Instructions, then k (image, true answer) turns, then the query image; k = 0 is zero-shot."""

    def __init__(self, config: StrategyConfig, shots: int, metadata: MetadataConfig, task: Task, seed: int):
        if config.max_shots is not None and shots > config.max_shots:
            raise UserError(f"strategy {config.name} shows at most {config.max_shots} examples, got shots={shots}; "
                            "use strategy=few_shot for examples")
        if shots < 0:
            raise UserError(f"shots={shots} is negative; give 0 or more")
        check_policy(config.selection)
        self.config, self.shots, self.metadata, self.task, self.seed = config, shots, metadata, task, seed
        self.pool = task.items("train")
        self.system = {"role": "system", "content": instructions(config.template)}

    def calibration_items(self) -> list[Item]:
        """Training items the model must score first (error feedback); none here."""
        return []

    def calibration_request(self, item: Item) -> Request:
        return Request(item, [self.system, image_turn(item, self.task, self.metadata, QUERY_LEAD)])

    def examples(self, item: Item, index: int) -> list[Item]:
        return select(self.config.selection, self.pool, self.shots, item, index, self.seed)

    def request(self, item: Item, index: int, calibration: Mapping[str, dict[str, Any]]) -> Request:
        examples = self.examples(item, index)
        messages: list[dict[str, Any]] = [self.system]
        for number, example in enumerate(examples, 1):
            messages.append(image_turn(example, self.task, self.metadata, f"Example {number}."))
            messages.append({"role": "assistant", "content": reference_answer(example.target)})
        messages.append(image_turn(item, self.task, self.metadata, QUERY_LEAD))
        return Request(item, messages, [example.id for example in examples])


class ErrorFeedback(FewShot):
    """Calibration images scored once by the model; each prompt shows m of them with their errors."""

    @cached_property
    def _calibration(self) -> list[Item]:
        size = min(self.config.calibration_pool, len(self.pool))
        return sorted(item_rng(self.seed, "calibration").sample(list(self.pool), size), key=lambda i: i.id)

    def calibration_items(self) -> list[Item]:
        return self._calibration

    def request(self, item: Item, index: int, calibration: Mapping[str, dict[str, Any]]) -> Request:
        scored = [i for i in self.calibration_items() if calibration.get(i.id, {}).get("score") is not None]
        if len(scored) < self.shots:
            raise UserError(f"error_feedback needs {self.shots} scored calibration images, the model scored "
                            f"{len(scored)}; raise strategy.calibration_pool or lower shots")
        policy = "same_region" if item.meta.get("region") is not None else "random"
        examples = select(policy, scored, self.shots, item, index, self.seed)
        messages: list[dict[str, Any]] = [self.system]
        for number, example in enumerate(examples, 1):
            predicted = calibration[example.id]["score"]
            feedback = (f"Calibration example {number}. True: {example.target:.1f}, Pred: {predicted:.1f}, "
                        f"Error: {abs(example.target - predicted):.2f}.")
            messages.append(image_turn(example, self.task, self.metadata, feedback))
        messages.append(image_turn(item, self.task, self.metadata, QUERY_LEAD))
        return Request(item, messages, [example.id for example in examples])


STRATEGIES = {"zero_shot": FewShot, "few_shot": FewShot, "error_feedback": ErrorFeedback}


def make_strategy(config: StrategyConfig, shots: int | None, metadata: MetadataConfig, task: Task,
                  seed: int) -> FewShot:
    if config.name not in STRATEGIES:
        raise UserError(f"unknown strategy '{config.name}'; choose one of: {', '.join(STRATEGIES)}")
    return STRATEGIES[config.name](config, effective_shots(shots, config), metadata, task, seed)
