"""Meaning checks on a model card, beyond its schema: each problem is one line naming the field and the fix.

`check_model_card` runs when a card file is loaded (so a broken card fails at once) and again on the
composed card when a backend is built (so command-line overrides are checked too). What only a run
needs, such as a base_url, is checked by the backend itself: the generic card must compose without one.
"""

from __future__ import annotations

import re
from typing import Any

from ldct_bench.cards.cost import IMAGE_TOKEN_RULES
from ldct_bench.cards.lifecycle import STATUSES, parse_date
from ldct_bench.errors import UserError, did_you_mean
from ldct_bench.secrets import looks_like_key

VIA = ("vendor", "openrouter")
IMAGE_DETAIL = (None, "low", "high", "auto")
REASONING_EFFORT = (None, "none", "minimal", "low", "medium", "high", "xhigh", "max")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _choice(name: str, value: Any, allowed: tuple) -> str | None:
    if value in allowed:
        return None
    shown = [a for a in allowed if a is not None]
    hint = did_you_mean(str(value), shown) or f" use one of: {', '.join(map(str, shown))}."
    return f"{name}={value!r} is not known;{hint}"


def model_card_problems(card: Any) -> list[str]:
    """Every meaning problem of a model card (a ModelCard or its DictConfig), as short sentences."""
    problems = [p for p in (
        _choice("via", card.via, VIA),
        _choice("image_detail", card.image_detail, IMAGE_DETAIL),
        _choice("reasoning_effort", card.reasoning_effort, REASONING_EFFORT),
        _choice("image_token_rule", card.image_token_rule, tuple(IMAGE_TOKEN_RULES)),
    ) if p]
    key_env = card.api_key_env
    if key_env and looks_like_key(key_env):
        problems.append("api_key_env holds what looks like a key; put the NAME of the environment variable "
                        "there (api_key_env: OPENAI_API_KEY) and export the key in that variable")
    elif key_env and not _ENV_NAME.match(key_env):
        problems.append("api_key_env is not a variable name (its value is not shown, in case it is a secret); "
                        "use letters, digits and _ only")
    for name in ("price_input_per_mtok", "price_output_per_mtok", "price_cached_input_per_mtok"):
        if getattr(card, name) is not None and getattr(card, name) < 0:
            problems.append(f"{name} is negative; prices are dollars per million tokens")
    for name, low in (("concurrency", 1), ("max_retries", 0), ("reasks", 0)):
        if getattr(card, name) < low:
            problems.append(f"{name}={getattr(card, name)} must be at least {low}")
    problems += lifecycle_problems(card)
    if card.timeout_s <= 0:
        problems.append(f"timeout_s={card.timeout_s} must be positive")
    if card.max_tokens is not None and card.max_completion_tokens is not None:
        problems.append("set max_tokens or max_completion_tokens, not both (reasoning models take "
                        "max_completion_tokens; set the other to null)")
    if card.backend == "vllm":  # Backend is a str enum
        if not card.base_url and not card.serve.hf_id:
            problems.append("a vllm card needs serve.hf_id (the model to launch) or base_url (a running server)")
        if not card.base_url and "{port}" not in " ".join(card.serve.command):
            problems.append("serve.command must contain {port} so the launched server listens where it is asked")
    return problems


def lifecycle_problems(card: Any) -> list[str]:
    """Status, dates and limits: a card that cannot say whether its model exists or what fits in it."""
    problems = [p for p in [_choice("status", card.status, STATUSES)] if p]
    for name in ("retires", "checked"):
        try:
            parse_date(getattr(card, name))
        except ValueError:
            problems.append(f"{name}={getattr(card, name)!r} is not a date; write it as YYYY-MM-DD")
    if card.status == "deprecated" and not card.retires:
        problems.append("a deprecated card needs retires: the shutdown date its vendor announced (YYYY-MM-DD)")
    for name in ("context_window", "max_images_per_request", "rate_limit_tpm", "rate_limit_rpm"):
        if getattr(card, name) is not None and getattr(card, name) <= 0:
            problems.append(f"{name}={getattr(card, name)} must be positive, or null for no limit")
    return problems


def check_model_card(card: Any, where: str) -> None:
    """Raise UserError naming `where` (a file, or `model NAME`) on the first problem."""
    problems = model_card_problems(card)
    if problems:
        raise UserError(f"{where}: {problems[0]}")
