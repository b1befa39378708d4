"""Pieces every strategy's chat is made of: instructions from template files, image turns, answers.

A strategy template holds `{scale}`, `{metadata}` and `{answer_format}`, filled from the shared
files beside it; the metadata paragraphs explain once what the per-image facts mean, so the
line shown with each image stays short.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from ldct_bench.config.schema import MetadataConfig, TaskCard
from ldct_bench.data.scale import CATEGORIES, category_of
from ldct_bench.data.task import Item, Task

TEMPLATES = Path(__file__).parent / "templates"
QUERY_LEAD = "Rate the quality of this slice."


@cache
def template(name: str) -> str:
    return (TEMPLATES / name).read_text().strip()


def instructions(template_name: str, metadata: MetadataConfig, card: TaskCard) -> str:
    """A strategy's system text: its template with the scale, metadata notes and answer format filled in."""
    notes = [template(f"metadata_{kind}.txt") for kind in ("region", "noise") if getattr(metadata, kind)]
    text = template(template_name).format(
        scale=template("scale.txt").format(window_width=card.window_width, window_level=card.window_level),
        metadata="\n\n".join(notes), answer_format=template("answer_format.txt"))
    return re.sub(r"\n{3,}", "\n\n", text)


def image_part(url: str) -> dict[str, Any]:
    """A content part showing an image given as a data URL (`Task.image_url`)."""
    return {"type": "image_url", "image_url": {"url": url}}


def item_facts(item: Item, metadata: MetadataConfig) -> str:
    """The metadata shown with an image (empty when metadata=none); noise with 3 decimals, as the paper did."""
    facts = []
    if metadata.region:
        facts.append(f"Region: {item.meta['region']}.")
    if metadata.noise:
        facts.append(f"Estimated noise level: {item.meta['noise']:.3f}.")
    return " ".join(facts)


def image_turn(item: Item, task: Task, metadata: MetadataConfig, *texts: str) -> dict[str, Any]:
    """A user turn: the lead text, the image's metadata, any further text, then the image."""
    lead, *rest = texts
    text = " ".join(part for part in (lead, item_facts(item, metadata), *rest) if part)
    return {"role": "user", "content": [{"type": "text", "text": text}, image_part(task.image_url(item.id))]}


def reference_answer(score: float) -> dict[str, Any]:
    """An assistant turn with the true score and its category (examples have no explanation)."""
    return {"role": "assistant",
            "content": json.dumps({"score": round(score, 1), "category": CATEGORIES[category_of(score)]})}
