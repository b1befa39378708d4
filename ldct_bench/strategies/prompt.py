"""Pieces every strategy's chat is made of: instructions from template files, image parts, item text."""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import MetadataConfig
from ..scale import CATEGORIES, category_of
from ..data.task import Item, Task

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=None)
def template(name: str) -> str:
    return (TEMPLATES / name).read_text().strip()


def instructions(template_name: str) -> str:
    """A strategy's system text: its template with the shared scale and answer format filled in."""
    return template(template_name).format(scale=template("scale.txt"), answer_format=template("answer_format.txt"))


def image_part(png: bytes) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}


def item_facts(item: Item, metadata: MetadataConfig) -> str:
    """The metadata line shown with an image (empty when metadata=none)."""
    facts = []
    if metadata.region:
        facts.append(f"Region: {item.meta['region']}.")
    if metadata.noise:
        facts.append(f"Estimated noise level: {item.meta['noise']:.3f} (higher means noisier).")
    return " ".join(facts)


def image_turn(item: Item, task: Task, metadata: MetadataConfig, lead: str) -> dict[str, Any]:
    text = " ".join(part for part in (lead, item_facts(item, metadata)) if part)
    return {"role": "user", "content": [{"type": "text", "text": text}, image_part(task.png(item.id))]}


def reference_answer(score: float) -> str:
    return json.dumps({"score": round(score, 1), "category": CATEGORIES[category_of(score)]})
