"""Which training examples a prompt shows: the selection policies, all deterministic under a seed.

Random choices rank items by a hash of (seed, purpose, item id) instead of drawing from a
generator, so an item's rank does not depend on which other items are in the pool, on the
order items are scored in, or on concurrency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence

from ldct_bench.data.task import Item
from ldct_bench.errors import UserError, did_you_mean


def rank(seed: int, *keys: Hashable) -> int:
    """A pseudo-random rank fixed by the seed and the keys."""
    return int.from_bytes(hashlib.sha256(repr((seed, *keys)).encode()).digest()[:8], "big")


def shuffled(items: Sequence[Item], seed: int, *keys: Hashable) -> list[Item]:
    """The items in a seeded pseudo-random order; each item's place depends only on its own id."""
    return sorted(items, key=lambda item: rank(seed, *keys, item.id))


def _random(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    return shuffled(pool, seed, "random", query.id)[:k]


def _fixed(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    """One set in one order for every item: identical prompt prefixes, which providers cache."""
    return shuffled(pool, seed, "fixed")[:k]


def _sliding_window(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    """The paper's code: k consecutive training items starting at (item index x k), wrapping around."""
    start = (index * k) % len(pool)
    return [pool[(start + j) % len(pool)] for j in range(k)]


def _stratified(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    """One example from each of k equal-count bands of the score range, shown in a seeded order."""
    ranked = sorted(pool, key=lambda item: (item.target, item.id))
    bounds = [round(i * len(ranked) / k) for i in range(k + 1)]
    picks = [shuffled(ranked[lo:hi], seed, "stratified", query.id)[0] for lo, hi in zip(bounds, bounds[1:])]
    return shuffled(picks, seed, "stratified-order", query.id)


def _same_region(pool: Sequence[Item], k: int, query: Item, index: int, seed: int) -> list[Item]:
    """Same-region examples first (shuffled), filled from other regions when too few."""
    region = query.meta.get("region")
    same = [item for item in pool if item.meta.get("region") == region]
    other = [item for item in pool if item.meta.get("region") != region]
    return (shuffled(same, seed, "region", query.id) + shuffled(other, seed, "region", query.id))[:k]


POLICIES: dict[str, Callable[[Sequence[Item], int, Item, int, int], list[Item]]] = {
    "sliding_window": _sliding_window, "random": _random, "stratified": _stratified,
    "same_region": _same_region, "fixed": _fixed,
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
        raise UserError(f"shots={k} is more than the shot pool ({len(candidates)} training items); lower shots")
    return POLICIES[policy](candidates, k, query, index, seed)
