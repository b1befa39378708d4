"""Which training examples a prompt shows: the selection policies, all deterministic under a seed."""

from __future__ import annotations

import hashlib
import random
from typing import Callable, Sequence

from ..data.task import Item
from ..errors import UserError, did_you_mean


def item_rng(seed: int, *keys: object) -> random.Random:
    """A random stream fixed by the run seed and the item, independent of order and concurrency."""
    digest = hashlib.sha256(repr((seed, *keys)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _random(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    return item_rng(seed, query.id).sample(list(pool), k)


def _fixed(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    # One set for every item (the query left out if it is in the pool): identical prompt prefixes.
    return item_rng(seed, "fixed").sample(list(pool), len(pool))[:k]


def _sliding_window(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    start = (index * k) % len(pool)
    return [pool[(start + j) % len(pool)] for j in range(k)]


def _stratified(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    """One example from each of k equal-count bands of the score range."""
    ranked = sorted(pool, key=lambda item: (item.target, item.id))
    rng = item_rng(seed, query.id)
    bounds = [round(i * len(ranked) / k) for i in range(k + 1)]
    return [ranked[rng.randrange(lo, hi)] for lo, hi in zip(bounds, bounds[1:])]


def _same_region(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    """Same-region examples first (shuffled), filled from other regions when too few."""
    rng = item_rng(seed, query.id)
    same = [item for item in pool if item.meta.get("region") == query.meta.get("region")]
    other = [item for item in pool if item.meta.get("region") != query.meta.get("region")]
    rng.shuffle(same)
    rng.shuffle(other)
    return (same + other)[:k]


POLICIES: dict[str, Callable[[Sequence[Item], int, Item, int, int], list[Item]]] = {
    "random": _random, "fixed": _fixed, "sliding_window": _sliding_window,
    "stratified": _stratified, "same_region": _same_region,
}


def check_policy(name: str) -> None:
    if name not in POLICIES:
        raise UserError(f"unknown strategy.selection '{name}';{did_you_mean(name, POLICIES) or ''} "
                        f"choose one of: {', '.join(POLICIES)}")


def select(policy: str, pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    """Exactly k examples from the pool, never the query itself."""
    candidates = [item for item in pool if item.id != query.id]
    if k == 0:
        return []
    if k > len(candidates):
        raise UserError(f"shots={k} is more than the shot pool ({len(candidates)} training items); "
                        f"lower shots")
    return POLICIES[policy](candidates, k, query, index, seed)
