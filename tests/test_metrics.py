"""The challenge metrics against hand-computed cases, ties included."""

import math

import pytest
from scipy import stats

from ldct_bench.metrics import bootstrap_ci, correlations


def test_perfect_and_reversed_order():
    up = correlations([0, 1, 2, 3], [0.5, 1.5, 2.5, 3.5])
    assert up["plcc"] == pytest.approx(1) and up["srocc"] == pytest.approx(1) and up["krocc"] == pytest.approx(1)
    assert up["overall"] == pytest.approx(3)
    down = correlations([0, 1, 2, 3], [3, 2, 1, 0])
    assert down["plcc"] == pytest.approx(-1)
    assert down["overall"] == pytest.approx(3)  # the challenge sums absolute values


def test_hand_computed_kendall_tau_b_with_ties():
    # y = [1,2,3,4], p = [1,1,2,2]: pairs (6): concordant 4, discordant 0, ties only in p: 2.
    # tau_b = (4 - 0) / sqrt((4 + 0 + 2) * (4 + 0 + 0)) = 4 / sqrt(24)
    values = correlations([1, 2, 3, 4], [1, 1, 2, 2])
    assert values["krocc"] == pytest.approx(4 / math.sqrt(24))
    # Spearman with average ranks: ranks p = [1.5,1.5,3.5,3.5] vs [1,2,3,4] -> pearson of ranks
    assert values["srocc"] == pytest.approx(0.8944271909999159)
    # Pearson by hand: y mean 2.5, p mean 1.5; cov = (1.5*.5*2 + .5*.5*2)/.. -> 2/ sqrt(5 * 1)
    assert values["plcc"] == pytest.approx(2 / math.sqrt(5))


def test_ties_lower_krocc_than_distinct_answers():
    target = [0.2, 0.8, 1.4, 2.0, 2.6, 3.2, 3.8]
    integer = correlations(target, [0, 1, 1, 2, 3, 3, 4])
    distinct = correlations(target, [0.1, 0.9, 1.3, 2.1, 2.5, 3.3, 3.9])
    assert integer["krocc"] < distinct["krocc"] == pytest.approx(1)


def test_matches_scipy_on_random_data():
    import numpy as np
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 4, 50)
    p = y + rng.normal(0, 1, 50)
    values = correlations(y, p)
    assert values["plcc"] == pytest.approx(stats.pearsonr(y, p)[0])
    assert values["srocc"] == pytest.approx(stats.spearmanr(y, p)[0])
    assert values["krocc"] == pytest.approx(stats.kendalltau(y, p)[0])


def test_undefined_cases_are_nan_not_errors():
    assert math.isnan(correlations([1, 2], [1, 2])["overall"])
    assert math.isnan(correlations([1, 2, 3], [2, 2, 2])["plcc"])


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded():
    import numpy as np
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 4, 40)
    p = y + rng.normal(0, 0.7, 40)
    point = correlations(y, p)
    ci = bootstrap_ci(y, p, resamples=300, seed=1)
    for name in ("plcc", "srocc", "krocc", "overall"):
        lo, hi = ci[name]
        assert lo <= point[name] <= hi
        assert hi - lo > 0.01
    assert bootstrap_ci(y, p, resamples=300, seed=1) == ci


def test_vectorised_resample_metrics_equal_scipy_ties_included():
    import numpy as np

    from ldct_bench.metrics import resampled_correlations
    rng = np.random.default_rng(5)
    y = np.round(rng.uniform(0, 4, (40, 30)) * 5) / 5  # multiples of 0.2, like the labels
    p = np.round(y + rng.normal(0, 0.8, (40, 30)))  # integer answers: many ties
    batch = resampled_correlations(y, p)
    for row in range(40):
        single = correlations(y[row], p[row])
        for name, value in single.items():
            assert batch[name][row] == pytest.approx(value, abs=1e-12)
