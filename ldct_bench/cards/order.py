"""The order `ldct-bench list models` shows model cards in, from what the cards already say.

File names sort `gemma-3-vllm` before `gemma-3` ('-' before '.'), and o3 far from the GPT cards. Here cards
are grouped by maker (a family's usual `provider`: Together's Llama card stays with Meta's), then within a
family the usable come first (active, deprecated, retired), newer version numbers in the name first, and
each base card directly before its variants (`gpt-4o`, `gpt-4o-mini`). No release dates: cards hold none.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ldct_bench.cards.lifecycle import STATUSES

_STEM = re.compile(r"[a-z]*")
_VERSION = re.compile(r"\d+(?:\.\d+)*")


@dataclass(frozen=True)
class Listed:
    """What ordering needs from one card: its name, `provider` and status on today's date."""

    name: str
    provider: str
    status: str


def family(name: str) -> str:
    """The leading letters of a card's name: `gpt-4o` -> gpt, `qwen2.5-vl-7b-vllm` -> qwen, `o3` -> o."""
    stem = _STEM.match(name.lower())  # always a match, maybe empty
    return stem.group() if stem else ""


def version(name: str) -> tuple[int, ...]:
    """The first number in the name as a tuple (`gemini-3.1-pro-preview` -> (3, 1)); () when it has none.
    Later numbers are sizes or variants (`qwen2.5-vl-72b`), not versions."""
    found = _VERSION.search(name)
    return tuple(int(part) for part in found.group().split(".")) if found else ()


def _base(name: str, names: set[str]) -> str:
    """The card this one is a variant of (`gemma-3-vllm` -> gemma-3), through every level; itself if none."""
    bases = [other for other in names if name.startswith(other + "-")]
    return _base(max(bases, key=len), names) if bases else name


def model_order(cards: list[Listed]) -> list[str]:
    """Card names in listing order."""
    by_name = {card.name: card for card in cards}
    makers: dict[str, Counter] = {}
    for card in cards:
        makers.setdefault(family(card.name), Counter())[card.provider] += 1
    maker = {stem: min(counts, key=lambda provider: (-counts[provider], provider)) for stem, counts in makers.items()}

    def key(name: str) -> tuple:
        base = by_name[_base(name, set(by_name))]
        number = version(base.name)
        newest_first = tuple(-part for part in number) + (0,) * (4 - len(number))
        return (maker[family(name)], family(name), STATUSES.index(base.status), not number, newest_first,
                base.name, name != base.name, name)

    return sorted(by_name, key=key)
