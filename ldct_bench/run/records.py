"""A journal line, typed: one test (or calibration) item's answer, what was asked, what it cost.

Every writer of predictions.jsonl (a run, `ldct-bench score`) builds a `Prediction`, and every reader
(resume, results, reports, W&B, the viewer) gets one back, so the line has one shape. With `repeats` > 1 the
line keeps each sample's score (`scores`, None for an unreadable one) and the item's score is their mean
over readable samples; a failure keeps the raw reply and the reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from statistics import fmean
from typing import TYPE_CHECKING, Any, ClassVar, Self

from ldct_bench.data.scale import CATEGORIES, category_of

if TYPE_CHECKING:
    from ldct_bench.backends.base import Request
    from ldct_bench.data.task import Item
    from ldct_bench.run.asking import Outcome

@dataclass
class Record:
    """A dataclass written as one JSON object and read back from any version of it: unknown keys are ignored,
    missing ones take their defaults, and the fields named in ONLY_WHEN_SET are left out while they are None
    (so a plain run's files keep their short shape)."""

    ONLY_WHEN_SET: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in self.ONLY_WHEN_SET:
            if data[name] is None:
                del data[name]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass
class Prediction(Record):
    id: str
    target: float
    score: float | None = None  # None: the item failed (see `error`)
    category: str | None = None
    explanation: str | None = None
    read_from: str | None = None  # json | text | logprobs | pixels | file: where the score was read
    category_disagrees: bool | None = None
    error: str | None = None
    raw: str | None = None  # the unreadable reply of a failed item
    example_ids: list[str] = field(default_factory=list)  # the examples its prompt showed, in order
    meta: dict[str, Any] = field(default_factory=dict)  # per-image facts: region, noise
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_s: float | None = None
    attempts: int = 0
    reasks: int = 0
    cached: bool = False
    scores: list[float | None] | None = None  # each sample's score, with repeats > 1
    sample_errors: list[str | None] | None = None
    level_probabilities: Any = None  # scoring=expected: P(level 0..4), one list per sample when repeated

    ONLY_WHEN_SET: ClassVar[tuple[str, ...]] = ("scores", "sample_errors", "level_probabilities")

    @property
    def scored(self) -> bool:
        return self.score is not None

    @classmethod
    def failure(cls, item: Item, error: str) -> Prediction:
        """An item that got no answer, with the reason."""
        return cls(id=item.id, target=item.target, error=error, meta=_meta(item))

    @classmethod
    def from_outcomes(cls, item: Item, request: Request | None, outcomes: list[Outcome],
                      cost: float | None) -> Prediction:
        """The line of one item from its samples' outcomes (one outcome unless repeats > 1)."""
        answers = [outcome.answer for outcome in outcomes]
        readable = [answer for answer in answers if answer is not None]
        first = readable[0] if readable else None
        score = fmean(answer.score for answer in readable) if readable else None
        category = None
        if first is not None and score is not None:
            given = first.category if first.category in CATEGORIES and len(outcomes) == 1 else None
            category = given or CATEGORIES[category_of(score)]
        last = outcomes[-1]
        usage: dict[str, int] = {}
        for outcome in outcomes:
            for key, value in outcome.usage.as_dict().items():
                usage[key] = usage.get(key, 0) + value
        probabilities = [getattr(answer, "probabilities", None) for answer in answers]
        shown = [list(p) if p else None for p in probabilities]
        return cls(
            id=item.id, target=item.target, score=score, category=category,
            explanation=first.explanation if first else None, read_from=first.read_from if first else None,
            category_disagrees=bool(first.category_disagrees) if first else None,
            error=None if first else last.error, raw=None if first else last.raw,
            example_ids=list(request.example_ids) if request else [], meta=_meta(item), usage=usage,
            cost_usd=cost, latency_s=round(sum(outcome.latency_s for outcome in outcomes), 3),
            attempts=sum(outcome.attempts for outcome in outcomes),
            reasks=sum(outcome.reasks for outcome in outcomes),
            cached=all(outcome.cached for outcome in outcomes),
            scores=[a.score if a is not None else None for a in answers] if len(outcomes) > 1 else None,
            sample_errors=[outcome.error for outcome in outcomes] if len(outcomes) > 1 else None,
            level_probabilities=(shown[0] if len(shown) == 1 else shown) if any(probabilities) else None,
        )


def _meta(item: Item) -> dict[str, Any]:
    return {key: value for key, value in item.meta.items() if value is not None}
