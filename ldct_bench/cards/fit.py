"""Prompts that fit: stop before any request when the run's largest request cannot fit the endpoint.

A 34-shot prompt of 512x512 slices is 35 images; under some providers' image rules that is more than the
model's context window holds (grok-2-vision: 32,768 tokens), or more images than one request may carry.
Sending it anyway fails every item after paying for nothing. The check measures the first few requests
the strategy builds, by the same token rule as `ldct-bench estimate` (cost.prompt_tokens), adds the
answer's token limit, and names the limit, the request's size and the largest `shots` that fits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ldct_bench.cards.cost import prompt_tokens
from ldct_bench.errors import UserError

SAMPLE = 3  # requests measured per kind (scoring, calibration); prompts differ only in a few words of text


@dataclass(frozen=True)
class Measured:
    """One request's size, split into what every request carries and what each example adds."""

    prompt: int
    images: int
    base_prompt: int  # instructions + the test image: the request at shots=0
    base_images: int
    shots: int

    def per_shot(self) -> tuple[float, float]:
        """(tokens, images) one example adds; zero when the request shows none."""
        if not self.shots:
            return 0.0, 0.0
        return (self.prompt - self.base_prompt) / self.shots, (self.images - self.base_images) / self.shots


def answer_limit(card: Any) -> int:
    """Tokens the answer may take, which the context window must also hold."""
    return card.max_completion_tokens or card.max_tokens or 0


def measure(messages: list[dict[str, Any]], card: Any, shots: int) -> Measured:
    """Size a chat built as instructions, `shots` example turn pairs, then the test image."""
    total, _, sizes = prompt_tokens(messages, card)
    base = [m for m in messages[:1] if m["role"] == "system"] + messages[-1:]
    base_total, _, base_sizes = prompt_tokens(base, card)
    return Measured(total, len(sizes), base_total, len(base_sizes), shots)


def largest_shots(card: Any, m: Measured) -> int | None:
    """The most examples whose request fits both limits; None when not even the zero-shot request fits."""
    per_tokens, per_images = m.per_shot()
    bounds = []
    if card.context_window:
        room = card.context_window - answer_limit(card) - m.base_prompt
        bounds.append(math.floor(room / per_tokens) if per_tokens else (m.shots if room >= 0 else -1))
    if card.max_images_per_request:
        room = card.max_images_per_request - m.base_images
        bounds.append(math.floor(room / per_images) if per_images else (m.shots if room >= 0 else -1))
    best = min(bounds) if bounds else m.shots
    return best if best >= 0 else None


def _advice(card: Any, m: Measured) -> str:
    best = largest_shots(card, m)
    if best is None:
        return "not even a zero-shot request fits; choose a model with a larger limit"
    return f"the largest shots that fits is shots={best}" if m.shots else "choose a model with a larger limit"


def fit_problem(card: Any, m: Measured) -> str | None:
    """One line when the measured request exceeds the card's context window or image limit."""
    needed = m.prompt + answer_limit(card)
    if card.context_window and needed > card.context_window:
        return (f"model {card.name}: a request of shots={m.shots} is about {needed:,} tokens ({m.prompt:,} prompt "
                f"by the '{card.image_token_rule}' image rule + {answer_limit(card):,} answer limit), more than "
                f"its context window of {card.context_window:,} tokens (model.context_window); {_advice(card, m)}")
    if card.max_images_per_request and m.images > card.max_images_per_request:
        return (f"model {card.name}: a request of shots={m.shots} shows {m.images} images, more than the "
                f"{card.max_images_per_request} per request it accepts (model.max_images_per_request); "
                f"{_advice(card, m)}")
    return None


def check_fit(card: Any, strategy: Any, items: Sequence[Any], calibration: Sequence[Any]) -> None:
    """Raise UserError naming the limit when the run's largest request cannot fit (nothing is sent)."""
    if card.backend == "baseline" or not (card.context_window or card.max_images_per_request):
        return
    pretend = {item.id: item.target for item in calibration}  # any score: only the size matters
    measured = [measure(strategy.request(item, i, pretend).messages, card, strategy.shots)
                for i, item in enumerate(items[:SAMPLE])]
    measured += [measure(strategy.calibration_request(item).messages, card, 0) for item in calibration[:SAMPLE]]
    for m in sorted(measured, key=lambda m: (m.prompt, m.images), reverse=True)[:1] + \
            sorted(measured, key=lambda m: m.images, reverse=True)[:1]:
        problem = fit_problem(card, m)
        if problem:
            raise UserError(problem)
