"""Anatomical region labels from a multimodal model: a closed label set, asked once per image.

The real challenge release has no region labels (the paper had an LMM assign them); the demo
task carries them from its generator. Labels are asked through the same backend, response
cache and re-ask logic as scores, parsed strictly (a label outside the set is a recorded
failure, never a guess), and stored beside the data's fingerprint, like computed columns.
A dataset's own `region` column always wins over stored labels.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ldct_bench.backends.base import Request, Usage
from ldct_bench.cards.cost import cost_usd, has_prices, image_tokens, text_tokens
from ldct_bench.config.schema import ModelCard
from ldct_bench.data.task import Item, Task
from ldct_bench.errors import UserError
from ldct_bench.paths import write_atomic
from ldct_bench.reading.answer import AnswerError, find_json_object, strip_reasoning
from ldct_bench.run.asking import Asker
from ldct_bench.strategies.prompt import image_part

# The closed label set and what each label means (shown to the model).
REGIONS = {
    "liver": "upper abdomen with the liver as the dominant organ",
    "kidney": "abdomen at the level of the kidneys",
    "pelvis": "pelvic bones (iliac wings, hip joints) or the bladder",
    "upper abdomen": "upper abdomen where the liver does not dominate (stomach, spleen, pancreas)",
    "lower abdomen": "below the kidneys and above the pelvis (mostly bowel)",
    "chest": "the lungs or the heart take up much of the slice",
    "other": "none of the above",
}
LABELS_FILE = "region-labels.json"
ROUGH_OUTPUT_TOKENS = 20  # {"region": "upper abdomen"}
ROUGH_REASONING_TOKENS = 500  # hidden thinking of reasoning models, billed as output


@lru_cache(maxsize=1)
def region_prompt() -> str:
    labels = "\n".join(f"- {label}: {meaning}" for label, meaning in REGIONS.items())
    return (Path(__file__).parent / "region_prompt.txt").read_text().strip().format(labels=labels)


def parse_region(text: str | None) -> str:
    """The label from a reply (a JSON object or the bare label); AnswerError for anything outside the set."""
    if not text or not text.strip():
        raise AnswerError("empty reply")
    candidate: Any = strip_reasoning(text).strip()
    data = find_json_object(candidate)  # the score reader's JSON rule: fenced, after prose, the last object
    if data is not None and "region" in data:
        candidate = data["region"]
    label = re.sub(r"[\s_\-]+", " ", str(candidate).strip().strip("*`\"'.").lower())
    if label not in REGIONS:
        raise AnswerError(f"unknown region {str(candidate)[:40]!r}; expected one of: {', '.join(REGIONS)}")
    return label


def region_request(item: Item, task: Task) -> Request:
    """One user turn: the question with the label set, then the image (rendered as for scoring)."""
    return Request(item, [{"role": "user", "content": [{"type": "text", "text": region_prompt()},
                                                         image_part(task.image_url(item.id))]}])


def _labels_path(task: Task) -> Path:
    return task.store / "columns" / task.fingerprint / LABELS_FILE


def stored_labels(task: Task) -> dict[str, Any]:
    """{"labels": {id: label}, "failures": {id: reason}, "labeller": model id} for this task's data."""
    path = _labels_path(task)
    stored = json.loads(path.read_text()) if path.exists() else {}
    return {"labels": stored.get("labels", {}), "failures": stored.get("failures", {}),
            "labeller": stored.get("labeller")}


def _fill(task: Task, labels: dict[str, str]) -> list[Item]:
    """Put labels on the items whose data has no region; returns the items still without one."""
    missing = []
    for split in ("train", "test"):
        for item in task.items(split):
            if item.meta.get("region") is None and item.id in labels:
                item.meta["region"] = labels[item.id]
            if item.meta.get("region") is None:
                missing.append(item)
    return missing


def unlabelled(task: Task) -> list[Item]:
    """Items of both splits with no region in the data and none stored (stored ones are filled in)."""
    return _fill(task, stored_labels(task)["labels"])


def require_regions(task: Task) -> None:
    """Make every item carry a region (from the data or stored labels), or say how to get them."""
    missing = unlabelled(task)
    if missing:
        total = len(task.items("train")) + len(task.items("test"))
        raise UserError(f"metadata with region needs region labels and task {task.card.name} lacks them for "
                        f"{len(missing)} of {total} images; label them with `ldct-bench label-regions "
                        f"model=MODEL task={task.card.name}`, or use metadata=none/noise")


def estimate(card: ModelCard, images: int, size: int) -> tuple[float | None, str]:
    """A rough price for labelling `images` images: images x (image + prompt tokens, answer tokens) x card prices."""
    tokens_in = image_tokens(card.image_token_rule, size, size, card.image_detail) + text_tokens(region_prompt())
    tokens_out = ROUGH_OUTPUT_TOKENS + (ROUGH_REASONING_TOKENS if card.reasoning_effort else 0)
    shape = f"{images} images x ~{tokens_in} input + ~{tokens_out} output tokens"
    if not has_prices(card):
        return None, f"{shape}; cost unknown (model {card.name} has no prices)"
    dollars = cost_usd(Usage(images * tokens_in, images * tokens_out), card) or 0.0
    return dollars, (f"{shape} at ${card.price_input_per_mtok:g}/${card.price_output_per_mtok:g} per Mtok: "
                     f"about ${dollars:.4f} (less for answers already in the response cache)")


@dataclass
class LabelRun:
    """What one labelling pass did."""

    labelled: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    requests: int = 0


async def label_items(task: Task, items: list[Item], asker: Asker, concurrency: int) -> LabelRun:
    """Ask for each item's region (bounded concurrency); a reply outside the label set is a failure."""
    result = LabelRun()
    semaphore = asyncio.Semaphore(max(1, concurrency))
    bar = tqdm(total=len(items), desc="labelling regions", unit="img", dynamic_ncols=True)

    async def one(item: Item) -> None:
        async with semaphore:
            outcome = await asker.ask(region_request(item, task))
        if not outcome.cached:  # what this pass paid for
            result.usage += outcome.usage
        if outcome.answer is None:
            result.failures[item.id] = outcome.error or "no answer"
        else:
            result.labelled[item.id] = outcome.answer
        bar.update(1)

    try:
        await asyncio.gather(*(one(item) for item in items))
    finally:
        bar.close()
    result.requests = asker.requests_sent
    return result


def save_labels(task: Task, run: LabelRun, labeller: str) -> None:
    """Merge a pass into the stored labels: new labels added, their old failures cleared, new failures kept."""
    stored = stored_labels(task)
    labels = {**stored["labels"], **run.labelled}
    failures = {k: v for k, v in {**stored["failures"], **run.failures}.items() if k not in labels}
    write_atomic(_labels_path(task), json.dumps({"labeller": labeller, "labels": labels, "failures": failures},
                                                 indent=1, sort_keys=True))
    _fill(task, labels)
