"""Tokens and dollars: prices per million tokens from the card, image tokens by each provider's rule.

The image rules follow what each provider publishes for its billing; where a provider only
describes its rule loosely they are approximations (noted per rule) meant for `ldct-bench estimate`,
never for the bill itself: a run records the usage the API reports.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from ldct_bench.backends.base import Usage
    from ldct_bench.config.schema import ModelCard


def prices(card: ModelCard, batch: bool = False) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens, through the vendor's batch API when `batch` (the card's batch
    prices, else half the standard ones: what OpenAI, Google, Together and Alibaba charge); None without prices."""
    if card.price_input_per_mtok is None or card.price_output_per_mtok is None:
        return None
    if not batch:
        return card.price_input_per_mtok, card.price_output_per_mtok
    given = (card.batch_price_input_per_mtok, card.batch_price_output_per_mtok)
    return (given[0] if given[0] is not None else card.price_input_per_mtok / 2,
            given[1] if given[1] is not None else card.price_output_per_mtok / 2)


def cost_usd(usage: Usage, card: ModelCard, batch: bool = False) -> float | None:
    """Cost of one answer; None when the card has no prices. Cached prompt tokens bill at the cached price
    (a batch has no prompt cache discount of its own here: its input price applies to every token)."""
    found = prices(card, batch)
    if found is None:
        return None
    price_in, price_out = found
    cached_price = None if batch else card.price_cached_input_per_mtok
    cached = min(usage.cached_tokens, usage.prompt_tokens) if cached_price is not None else 0
    return ((usage.prompt_tokens - cached) * price_in + cached * (cached_price or 0.0)
            + usage.completion_tokens * price_out) / 1e6


PLAIN_ANSWER_TOKENS = 120  # a JSON score, category and a sentence of explanation
REASONING_ANSWER_TOKENS = 1500  # hidden reasoning is billed as output


def is_reasoning(card: Any) -> bool:
    """A model that thinks before it answers: it is sent an effort or a completion-token limit, or a large one."""
    ceiling = card.max_completion_tokens or card.max_tokens or 4096
    return card.reasoning_effort is not None or card.max_completion_tokens is not None or ceiling > 2048


def answer_tokens(card: Any) -> tuple[int, int]:
    """(expected, ceiling) completion tokens per answer: a guess for pricing, and the card's limit."""
    ceiling = card.max_completion_tokens or card.max_tokens or 4096
    return min(ceiling, REASONING_ANSWER_TOKENS if is_reasoning(card) else PLAIN_ANSWER_TOKENS), ceiling


def has_prices(card: ModelCard) -> bool:
    return card.price_input_per_mtok is not None and card.price_output_per_mtok is not None


def _fit(width: int, height: int, max_side: float) -> tuple[float, float]:
    """Shrink (never enlarge) so the longer side is at most max_side."""
    scale = min(1.0, max_side / max(width, height))
    return width * scale, height * scale


def _openai_tiles(base: int, per_tile: int) -> Callable[[int, int, str | None], int]:
    """OpenAI's tile rule (GPT-4o/4.1, 4o-mini, o1/o3): fit in 2048x2048, shortest side down to 768,
    count 512-px tiles; `detail: low` costs the base only."""
    def rule(width: int, height: int, detail: str | None) -> int:
        if detail == "low":
            return base
        w, h = _fit(width, height, 2048)
        shrink = min(1.0, 768 / min(w, h))
        w, h = w * shrink, h * shrink
        return base + per_tile * math.ceil(w / 512) * math.ceil(h / 512)
    return rule


def _openai_patches(multiplier: float) -> Callable[[int, int, str | None], int]:
    """OpenAI's patch rule (GPT-4.1 mini/nano, o4-mini): 32-px patches capped at 1536, times a model multiplier."""
    def rule(width: int, height: int, detail: str | None) -> int:
        patches = math.ceil(width / 32) * math.ceil(height / 32)
        if patches > 1536:
            scale = math.sqrt(1536 * 32 * 32 / (width * height))
            patches = min(1536, math.ceil(width * scale / 32) * math.ceil(height * scale / 32))
        return math.ceil(patches * multiplier)
    return rule


def _anthropic(width: int, height: int, detail: str | None) -> int:
    """Anthropic: long edge above 1568 px (or about 1.15 MP) is shrunk first; tokens = w*h/750."""
    w, h = _fit(width, height, 1568)
    area = min(w * h, 1_150_000)
    return math.ceil(area / 750)


def _gemini(width: int, height: int, detail: str | None) -> int:
    """Gemini 2.x at default media resolution: 258 tokens when both sides are <= 384 px, else 258 per
    768x768 tile the image is cropped and scaled into (a 512x512 slice is one tile)."""
    if width <= 384 and height <= 384:
        return 258
    return 258 * math.ceil(width / 768) * math.ceil(height / 768)


def _qwen(width: int, height: int, detail: str | None) -> int:
    """Qwen2.5-VL / Qwen-VL Max: one token per 28x28 px after rounding each side to a multiple of 28
    (at most 16384 tokens), plus 2 vision delimiters."""
    rows, cols = max(1, round(height / 28)), max(1, round(width / 28))
    return min(rows * cols, 16384) + 2


def _llama4(width: int, height: int, detail: str | None) -> int:
    """Llama 4: 336-px tiles of 144 tokens each (up to 16), plus a global view when there is more than one.
    Approximate: the processor picks the best-fitting tile canvas, which this rounds up to."""
    tiles = min(16, math.ceil(width / 336) * math.ceil(height / 336))
    return 144 * (tiles + (1 if tiles > 1 else 0))


def _together(width: int, height: int, detail: str | None) -> int:
    """Together AI's vision billing: a grid of 560-px tiles, at most 2 x 2, 1,601 tokens per tile (a 512x512
    slice is one tile). Source: https://docs.together.ai/docs/inference/vision/overview (read 2026-11-30)."""
    return 1601 * min(2, math.ceil(width / 560)) * min(2, math.ceil(height / 560))


def _xai(width: int, height: int, detail: str | None) -> int:
    """xAI Grok vision: 448-px tiles of 256 tokens each, plus one extra tile."""
    return 256 * (math.ceil(width / 448) * math.ceil(height / 448) + 1)


# Card field `image_token_rule` -> tokens for one image of (width, height) at the card's detail.
IMAGE_TOKEN_RULES: dict[str, Callable[[int, int, str | None], int]] = {
    "openai": _openai_tiles(85, 170),          # GPT-4o, GPT-4.1, GPT-4.5
    "openai_mini": _openai_tiles(2833, 5667),  # GPT-4o mini: ~33x the tokens at 1/17 the price
    "openai_o": _openai_tiles(75, 150),        # o1, o3
    "openai_patch_4.1_mini": _openai_patches(1.62),
    "openai_patch_4.1_nano": _openai_patches(2.46),
    "openai_patch_o4_mini": _openai_patches(1.72),
    "anthropic": _anthropic,
    "gemini": _gemini,
    "gemma": lambda width, height, detail: 256,  # Gemma 3 encodes every image at 896x896 into 256 tokens
    "qwen": _qwen,
    "llama4": _llama4,                         # Llama 4 served by vLLM (the processor's own tiles)
    "together": _together,                     # any vision model on Together AI's serverless API
    "xai": _xai,
    "none": lambda width, height, detail: 0,     # a model that reads pixels itself (the noise baseline)
}


def image_tokens(rule: str, width: int, height: int, detail: str | None = None) -> int:
    """Prompt tokens one image costs under a provider's rule (see IMAGE_TOKEN_RULES)."""
    return IMAGE_TOKEN_RULES[rule](width, height, detail)


def text_tokens(text: str) -> int:
    """About 4 characters per token (English prose; every provider's tokenizer is close to it)."""
    return math.ceil(len(text) / 4)


MESSAGE_OVERHEAD = 4  # role and separators per chat message, as OpenAI counts them


def image_size(url: str) -> tuple[int, int]:
    """Width and height of a data-URL image (reads the header only)."""
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size


def prompt_tokens(messages: list[dict[str, Any]], card: Any) -> tuple[int, int, list[tuple[int, int]]]:
    """(prompt tokens, image tokens, image sizes) of one chat under the card's image rule: what
    `ldct-bench estimate` prices, what the fit check measures and what token pacing spends."""
    tokens, image_total, sizes = 0, 0, []
    for message in messages:
        tokens += MESSAGE_OVERHEAD
        content = message["content"]
        for part in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            if part.get("type") == "image_url":
                size = image_size(part["image_url"]["url"])
                sizes.append(size)
                image_total += image_tokens(card.image_token_rule, *size, card.image_detail)
            else:
                tokens += text_tokens(part.get("text", ""))
    return tokens + image_total, image_total, sizes
