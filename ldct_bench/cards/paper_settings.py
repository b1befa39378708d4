"""The paper's sampling settings (output token limit, temperature) per table and model, for its presets.

A sweep over `model` cannot carry per-model overrides in one preset file, so the presets set each field to
`${ldct_paper:TABLE,${model.name},FIELD}`: the paper's value for that model where its code set one
(conf/paper_settings.yaml), else the card's own. The limit goes to whichever field the card sends
(`max_completion_tokens` for reasoning models), and a card that sends no temperature (they reject it) keeps none.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from ldct_bench.paths import resource_dir

FIELDS = ("temperature", "max_tokens", "max_completion_tokens")


@lru_cache(maxsize=1)
def paper_table() -> dict[str, dict[str, dict[str, Any]]]:
    return yaml.safe_load((resource_dir("conf") / "paper_settings.yaml").read_text())


def paper_setting(table: str, model: str, field: str, card: dict[str, Any]) -> Any:
    """The value `field` takes for `model` in the paper's `table`; `card` holds the model card's own values,
    which stand where the paper has none."""
    if field not in FIELDS:
        raise ValueError(f"ldct_paper: unknown field {field!r}; one of {', '.join(FIELDS)}")
    row = paper_table().get(table, {}).get(model)
    if row is None:
        return card.get(field)
    completion = card.get("max_completion_tokens") is not None and card.get("max_tokens") is None
    if field == "temperature":
        return None if card.get("temperature") is None else row["temperature"]
    if field == "max_tokens":
        return None if completion else row["max_tokens"]
    return row["max_tokens"] if completion else card.get(field)
