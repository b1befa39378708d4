"""Selection policies: exactly k examples, never the query, deterministic under a seed, and each policy's shape."""

import pytest

from ldct_bench.data.task import Item
from ldct_bench.errors import UserError
from ldct_bench.strategies.selection import POLICIES, check_policy, select

REGIONS = ("liver", "kidney", "pelvis")
POOL = [Item(f"{i:04d}.tif", "train", round((i * 13 % 21) / 5, 1), {"region": REGIONS[i % 3]}) for i in range(60)]
QUERIES = [Item(f"test{i:03d}.tiff", "test", 2.0, {"region": REGIONS[i % 3]}) for i in range(12)]


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("k", [1, 5, 10, 34])
def test_exactly_k_distinct_examples_from_the_pool(policy, k):
    ids = {item.id for item in POOL}
    for index, query in enumerate(QUERIES):
        chosen = select(policy, POOL, k, query, index, seed=0)
        assert len(chosen) == k and len({item.id for item in chosen}) == k
        assert {item.id for item in chosen} <= ids


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_query_is_never_its_own_example(policy):
    for index, query in enumerate(POOL[:20]):  # queries drawn from the pool itself
        chosen = select(policy, POOL, 59, query, index, seed=3)
        assert query.id not in {item.id for item in chosen} and len(chosen) == 59


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_same_seed_same_examples_in_any_order_of_calls(policy):
    first = [select(policy, POOL, 10, q, i, seed=7) for i, q in enumerate(QUERIES)]
    again = [select(policy, POOL, 10, q, i, seed=7) for i, q in reversed(list(enumerate(QUERIES)))][::-1]
    assert first == again


@pytest.mark.parametrize("policy", ["random", "stratified", "same_region", "fixed"])
def test_another_seed_gives_other_examples(policy):
    query = QUERIES[0]
    assert select(policy, POOL, 10, query, 0, seed=0) != select(policy, POOL, 10, query, 0, seed=1)


def test_random_differs_between_items_and_fixed_does_not():
    random_sets = {tuple(i.id for i in select("random", POOL, 10, q, n, seed=0)) for n, q in enumerate(QUERIES)}
    fixed_sets = {tuple(i.id for i in select("fixed", POOL, 10, q, n, seed=0)) for n, q in enumerate(QUERIES)}
    assert len(random_sets) == len(QUERIES) and len(fixed_sets) == 1


def test_fixed_set_stays_put_when_the_query_is_in_the_pool():
    """Leaving out the query must not reshuffle the rest: only the query's slot is refilled."""
    base = [i.id for i in select("fixed", POOL, 10, QUERIES[0], 0, seed=0)]
    inside = next(item for item in POOL if item.id == base[3])
    shifted = [i.id for i in select("fixed", POOL, 10, inside, 0, seed=0)]
    assert shifted[:3] == base[:3] and shifted[3:9] == base[4:] and inside.id not in shifted


def test_sliding_window_walks_the_pool_like_the_papers_code():
    k = 10
    for index in range(8):
        chosen = select("sliding_window", POOL, k, QUERIES[0], index, seed=0)
        start = index * k % len(POOL)
        assert [i.id for i in chosen] == [POOL[(start + j) % len(POOL)].id for j in range(k)]


def test_stratified_takes_one_example_from_each_score_band():
    ranked = sorted(POOL, key=lambda item: (item.target, item.id))
    for k in (4, 5, 10):
        bands = [ranked[round(b * 60 / k):round((b + 1) * 60 / k)] for b in range(k)]
        for index, query in enumerate(QUERIES):
            chosen = {item.id for item in select("stratified", POOL, k, query, index, seed=0)}
            assert [len(chosen & {item.id for item in band}) for band in bands] == [1] * k
    scores = [item.target for item in select("stratified", POOL, 5, QUERIES[0], 0, seed=0)]
    assert min(scores) <= 0.8 and max(scores) >= 3.2  # spread over the range, not bunched


def test_same_region_fills_from_other_regions_only_when_needed():
    for index, query in enumerate(QUERIES):
        chosen = select("same_region", POOL, 20, query, index, seed=0)
        assert all(item.meta["region"] == query.meta["region"] for item in chosen)
        more = select("same_region", POOL, 25, query, index, seed=0)
        assert [item.meta["region"] == query.meta["region"] for item in more] == [True] * 20 + [False] * 5


def test_too_many_shots_or_unknown_policy_is_a_clear_error():
    with pytest.raises(UserError, match="more than the shot pool"):
        select("random", POOL, 61, QUERIES[0], 0, seed=0)
    with pytest.raises(UserError, match="did you mean stratified"):
        check_policy("stratifed")
    assert select("random", POOL, 0, QUERIES[0], 0, seed=0) == []
