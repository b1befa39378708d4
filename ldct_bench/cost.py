"""Dollars from tokens at the card's per-million prices."""

from __future__ import annotations

from .backends.base import Usage
from .config import ModelCard


def cost_usd(usage: Usage, card: ModelCard) -> float | None:
    """Cost of one answer; None when the card has no prices."""
    if card.price_input_per_mtok is None or card.price_output_per_mtok is None:
        return None
    cached_price = card.price_cached_input_per_mtok
    cached = usage.cached_tokens if cached_price is not None else 0
    return ((usage.prompt_tokens - cached) * card.price_input_per_mtok
            + cached * (cached_price or 0.0)
            + usage.completion_tokens * card.price_output_per_mtok) / 1e6
