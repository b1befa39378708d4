"""Strategies build each test item's chat: zero_shot, few_shot (k examples) and error_feedback.

Every chat is: the instructions (system), then the examples as user/assistant turn pairs,
then the test image last. Nothing item-specific comes before the query, so with one fixed
example set the bytes before the query are identical across items (provider prompt caching).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ldct_bench.backends.base import Request
from ldct_bench.config.schema import MetadataConfig, StrategyConfig, effective_shots
from ldct_bench.data.task import Item, Task, require_train
from ldct_bench.errors import UserError
from ldct_bench.strategies.prompt import QUERY_LEAD, image_turn, instructions, reference_answer
from ldct_bench.strategies.selection import check_policy, select, shuffled

ZERO_SHOT_TEMPLATE = "zero_shot.txt"
Calibration = Mapping[str, "float | None"]  # the model's earlier score of each calibration image (None: failed)


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
        self.system = self._system(config.template)

    def _system(self, template_name: str) -> dict[str, Any]:
        return {"role": "system", "content": instructions(template_name, self.metadata, self.task.card)}

    def calibration_items(self) -> list[Item]:
        """Training items the model must score before the test items (error feedback); none here."""
        return []

    def calibration_request(self, item: Item) -> Request:
        """Zero-shot with the run's metadata: the same chat a zero_shot run sends, so the cache is shared."""
        return Request(item, [self._system(ZERO_SHOT_TEMPLATE), image_turn(item, self.task, self.metadata, QUERY_LEAD)])

    def examples(self, item: Item, index: int, calibration: Calibration) -> list[Item]:
        return select(self.config.selection, self.pool, self.shots, item, index, self.seed)

    def example_turns(self, example: Item, number: int, calibration: Calibration) -> list[dict[str, Any]]:
        return [image_turn(example, self.task, self.metadata, f"Example {number}."), reference_answer(example.target)]

    def request(self, item: Item, index: int, calibration: Calibration) -> Request:
        """Instructions, the examples' turns, then the query; the item records which examples it saw."""
        examples = self.examples(item, index, calibration)
        messages: list[dict[str, Any]] = [self.system]
        for number, example in enumerate(examples, 1):
            messages.extend(self.example_turns(example, number, calibration))
        messages.append(image_turn(item, self.task, self.metadata, QUERY_LEAD))
        return Request(item, messages, [example.id for example in examples])


def calibration_pool(pool: list[Item], size: int, seed: int) -> list[Item]:
    """`size` training items fixed by the seed, taken in turn from each region so all regions are covered."""
    groups: dict[Any, list[Item]] = {}
    for item in shuffled(pool, seed, "calibration"):
        groups.setdefault(item.meta.get("region"), []).append(item)
    chosen: list[Item] = []
    while len(chosen) < size:
        for group in groups.values():
            if group and len(chosen) < size:
                chosen.append(group.pop(0))
    return sorted(chosen, key=lambda item: item.id)


class NoExamples(RuntimeError):
    """None of a test image's drawn calibration images got a score: that item fails, the run goes on."""


class ErrorFeedback(FewShot):
    """Calibration images scored once by the model (zero-shot); each prompt shows m of them with their errors.

    `pool`: the m are chosen among one seeded pool scored first. `per_item` (the paper's protocol): each test
    image draws its own m from the whole train split; each distinct drawn image is scored once per run.
    """

    def __init__(self, config: StrategyConfig, shots: int, metadata: MetadataConfig, task: Task, seed: int,
                 test_items: list[Item] | None = None):
        super().__init__(config, shots, metadata, task, seed)
        self.per_item = config.calibration == "per_item"
        size = len(self.pool) if self.per_item else min(config.calibration_pool, len(self.pool))
        if not 1 <= shots <= size:
            where = "the train split" if self.per_item else "a pool of"
            raise UserError(f"error_feedback shows shots={shots} calibration examples out of {where} {size}; "
                            f"give 1 <= shots <= {size}" + ("" if self.per_item else
                                                            " (strategy.calibration_pool sets the pool)"))
        if self.per_item:
            queries = task.items("test") if test_items is None else test_items
            self.draws = {item.id: select(config.selection, self.pool, shots, item, index, seed)
                          for index, item in enumerate(queries)}
            drawn = {example.id: example for examples in self.draws.values() for example in examples}
            self.calibration = sorted(drawn.values(), key=lambda example: example.id)
        else:
            self.calibration = calibration_pool(self.pool, size, seed)

    def calibration_items(self) -> list[Item]:
        return self.calibration

    def examples(self, item: Item, index: int, calibration: Calibration) -> list[Item]:
        """m calibration images the model has scored: the item's own draw, or chosen from the pool by the
        selection policy (same region by default)."""
        if self.per_item:
            drawn = self.draws[item.id]
            scored = [example for example in drawn if calibration.get(example.id) is not None]
            if not scored:
                raise NoExamples(f"none of the {len(drawn)} calibration images drawn for it got a score")
            return scored
        scored = [example for example in self.calibration if calibration.get(example.id) is not None]
        if len(scored) < self.shots:
            raise UserError(f"error_feedback needs {self.shots} scored calibration images and the model scored "
                            f"{len(scored)} of {len(self.calibration)} (see calibration.jsonl); lower shots or "
                            "raise strategy.calibration_pool")
        return select(self.config.selection, scored, self.shots, item, index, self.seed)

    def example_turns(self, example: Item, number: int, calibration: Calibration) -> list[dict[str, Any]]:
        """The image with its true score, the model's earlier score and the absolute error, then the true answer."""
        predicted = calibration[example.id]
        assert predicted is not None  # `examples` shows only images the model scored
        feedback = (f"True score: {example.target:.1f}. Your earlier score: {predicted:.1f}. "
                    f"Absolute error: {abs(example.target - predicted):.2f}.")
        return [image_turn(example, self.task, self.metadata, f"Calibration example {number}.", feedback),
                reference_answer(example.target)]


class NoPrompt:
    """For a model that reads pixels itself (the noise baseline): each request names its item and shows nothing."""

    shots = 0

    def calibration_items(self) -> list[Item]:
        return []

    def calibration_request(self, item: Item) -> Request:
        return Request(item, [])

    def request(self, item: Item, index: int, calibration: Calibration) -> Request:
        return Request(item, [])


Strategy = FewShot | NoPrompt
STRATEGIES = ("zero_shot", "few_shot", "error_feedback")


def make_strategy(config: StrategyConfig, shots: int | None, metadata: MetadataConfig, task: Task,
                  seed: int, test_items: list[Item] | None = None) -> FewShot:
    """The strategy a config names, for the test items about to be scored (default: the whole test split)."""
    if config.name not in STRATEGIES:
        raise UserError(f"unknown strategy '{config.name}'; choose one of: {', '.join(STRATEGIES)}")
    if config.name == "error_feedback" or effective_shots(shots, config) > 0:
        require_train(task, f"strategy={config.name}")
    if config.name == "error_feedback":
        return ErrorFeedback(config, effective_shots(shots, config), metadata, task, seed, test_items)
    return FewShot(config, effective_shots(shots, config), metadata, task, seed)
