"""One journal line per item: what was asked, every answer that came back, what it cost.

With `repeats` > 1 the line keeps each sample's score (`scores`, null for an unreadable one) and the
item's score is their mean over readable samples; a failure keeps the raw reply and the reason.
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from ldct_bench.run.asking import Outcome
from ldct_bench.backends.base import Request, Usage
from ldct_bench.data.task import Item
from ldct_bench.data.scale import CATEGORIES, category_of


def prediction_record(item: Item, request: Request | None, outcomes: list[Outcome], cost: float | None) -> dict[str, Any]:
    """The journal line of one item from its samples' outcomes (one outcome unless repeats > 1)."""
    answers = [outcome.answer for outcome in outcomes]
    readable = [answer for answer in answers if answer is not None]
    first = readable[0] if readable else None
    score = fmean(answer.score for answer in readable) if readable else None
    category = None
    if first is not None:
        given = first.category if first.category in CATEGORIES and len(outcomes) == 1 else None
        category = given or CATEGORIES[category_of(score)]
    last = outcomes[-1]
    usage = sum((outcome.usage for outcome in outcomes), Usage())
    record: dict[str, Any] = {
        "id": item.id, "target": item.target, "score": score, "category": category,
        "explanation": first.explanation if first else None,
        "read_from": first.read_from if first else None,
        "category_disagrees": bool(first.category_disagrees) if first else None,
        "error": None if first else last.error, "raw": None if first else last.raw,
        "example_ids": request.example_ids if request else [],
        "meta": {k: v for k, v in item.meta.items() if v is not None},
        "usage": usage.as_dict(), "cost_usd": cost,
        "latency_s": round(sum(outcome.latency_s for outcome in outcomes), 3),
        "attempts": sum(outcome.attempts for outcome in outcomes),
        "reasks": sum(outcome.reasks for outcome in outcomes),
        "cached": all(outcome.cached for outcome in outcomes),
    }
    if len(outcomes) > 1:
        record["scores"] = [answer.score if answer is not None else None for answer in answers]
        record["sample_errors"] = [outcome.error for outcome in outcomes]
    probabilities = [getattr(answer, "probabilities", None) for answer in answers]
    if any(probabilities):
        shown = [list(p) if p else None for p in probabilities]
        record["level_probabilities"] = shown[0] if len(shown) == 1 else shown
    return record
