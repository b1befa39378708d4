"""The challenge metrics against hand-computed cases, ties included."""

import math

import pytest
from scipy import stats

from ldct_bench.stats.metrics import confidence_intervals, correlations, undefined_reason


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


@pytest.mark.parametrize("seed", range(5))
def test_matches_scipy_with_our_ties(seed):
    """Means of 5 ratings against one-decimal answers, half of them whole numbers: scipy's values to 1e-12."""
    import numpy as np
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y = rng.integers(0, 5, (n, 5)).mean(axis=1)
    p = np.clip(np.round(y + rng.normal(0, 0.8, n), 1), 0, 4)
    p[::2] = np.rint(p[::2])
    values = correlations(y, p)
    assert values["plcc"] == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-12)
    assert values["srocc"] == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-12)
    assert values["krocc"] == pytest.approx(stats.kendalltau(y, p, variant="b")[0], abs=1e-12)


def test_undefined_cases_are_nan_not_errors():
    assert math.isnan(correlations([1, 2], [1, 2])["overall"])
    assert math.isnan(correlations([1, 2, 3], [2, 2, 2])["plcc"])


@pytest.mark.parametrize("targets, scores, reason", [
    ([], [], "metrics need at least 3 scored items; 0 were scored"),
    ([2.6], [2.7], "metrics need at least 3 scored items; 1 was scored"),
    ([1, 2, 3], [3.1, 3.1, 3.1], "all predictions are equal (3.1): correlations are undefined"),
    ([2.2, 2.2, 2.2], [1, 2, 3], "all targets are equal (2.2): correlations are undefined"),
    ([1, 2, 3], [1, 3, 2], None),
])
def test_undefined_reason_says_why_exactly_when_the_metrics_are_nan(targets, scores, reason):
    assert undefined_reason(targets, scores) == reason
    assert math.isnan(correlations(targets, scores)["overall"]) == (reason is not None)


def test_intervals_bracket_the_estimate_and_are_deterministic():
    import numpy as np
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 4, 40)
    p = y + rng.normal(0, 0.7, 40)
    point = correlations(y, p)
    ci = confidence_intervals(y, p)
    for name in ("plcc", "srocc", "krocc", "overall"):
        lo, hi = ci[name]
        assert lo <= point[name] <= hi
        assert hi - lo > 0.01
    assert confidence_intervals(y, p) == ci


def _ours_like(rng, n):
    """Targets: means of 5 integer ratings; answers: one decimal, half of them whole numbers (many ties)."""
    import numpy as np
    y = rng.integers(0, 5, (n, 5)).mean(axis=1)
    p = np.clip(np.round(y + rng.normal(0, 0.8, n), 1), 0, 4)
    p[::2] = np.rint(p[::2])
    return y, p


@pytest.mark.parametrize("n", [8, 30, 120])
def test_weighted_resamples_equal_scipy_on_the_expanded_sample(n):
    """Each bootstrap row (item multiplicities) gives what scipy gives on the resample itself, ties and
    duplicated items included; tiny n also draws resamples with a constant side, which are NaN in both."""
    import numpy as np

    from ldct_bench.stats.metrics import resample_weights, weighted_correlations
    y, p = _ours_like(np.random.default_rng(n), n)
    if n == 8:
        p = np.where(np.arange(n) == 3, 3.0, 2.0)  # constant unless item 3 is drawn
    weights = resample_weights(n, 60, seed=4)
    idx = np.random.default_rng(4).integers(0, n, (60, n))  # the draws the weights count
    assert (weights == np.stack([np.bincount(row, minlength=n) for row in idx])).all()
    batch = weighted_correlations(y, p, weights)
    nan_rows = 0
    for row in range(60):
        single = correlations(y[idx[row]], p[idx[row]])
        nan_rows += math.isnan(single["overall"])
        for name, value in single.items():
            assert batch[name][row] == pytest.approx(value, abs=1e-12, nan_ok=True)
            assert batch["krocc"][row] == pytest.approx(
                stats.kendalltau(y[idx[row]], p[idx[row]], variant="b")[0], abs=1e-12, nan_ok=True)
    if n == 8:
        assert nan_rows > 0  # the degenerate case was exercised


def test_leave_one_out_rows_equal_scipy_without_that_item():
    import numpy as np

    from ldct_bench.stats.metrics import leave_one_out_weights, weighted_correlations
    y, p = _ours_like(np.random.default_rng(1), 25)
    batch = weighted_correlations(y, p, leave_one_out_weights(25))
    for i in range(25):
        single = correlations(np.delete(y, i), np.delete(p, i))
        for name, value in single.items():
            assert batch[name][i] == pytest.approx(value, abs=1e-12)


def _fisher_by_hand(y, p, name: str, scale: float, level: float) -> list[float]:
    """z = atanh(metric / scale), SE from the leave-one-out values on that scale, a t(n-1) quantile, tanh back."""
    import numpy as np
    n = len(y)
    z = np.arctanh(np.array([correlations(np.delete(y, i), np.delete(p, i))[name] for i in range(n)]) / scale)
    se = math.sqrt((n - 1) / n * ((z - z.mean()) ** 2).sum())
    centre, t = np.arctanh(correlations(y, p)[name] / scale), stats.t.ppf((1 + level) / 2, n - 1)
    return [scale * math.tanh(centre - t * se), scale * math.tanh(centre + t * se)]


def test_intervals_are_fisher_z_jackknife_t_computed_by_hand():
    """The method benchmarks/ci_coverage.py chose (overall as overall / 3), on a run strong enough that the
    bound below (next test) does not bite."""
    import numpy as np
    y, p = _ours_like(np.random.default_rng(7), 20)
    ci = confidence_intervals(y, p, level=0.9)
    for name, scale in (("plcc", 1), ("srocc", 1), ("krocc", 1), ("overall", 3)):
        assert ci[name] == pytest.approx(_fisher_by_hand(y, p, name, scale, 0.9))
    assert ci["overall"][0] > 0


def test_intervals_never_leave_the_metrics_range():
    """Weak runs of 12 items: overall / 3 through Fisher z comes back in (-3, 3), but no overall is below 0.
    The lower end is clipped there and nothing else changes."""
    import numpy as np
    clipped = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        y, p = np.round(rng.uniform(0, 4, 12), 1), np.round(rng.uniform(0, 4, 12), 1)
        ci = confidence_intervals(y, p)
        assert all(-1 <= lo <= hi <= 1 for name, (lo, hi) in ci.items() if name != "overall")
        low, high = _fisher_by_hand(y, p, "overall", 3, 0.95)
        assert ci["overall"] == pytest.approx([max(0.0, low), high])
        clipped += low < 0
    assert clipped >= 5  # the case the bound exists for was exercised


def test_an_item_that_alone_makes_a_metric_defined_gives_the_widest_interval():
    ci = confidence_intervals([1, 2, 3, 4, 5], [1, 1, 1, 1, 2])  # without item 5 the scores are constant
    assert ci["plcc"] == [-1.0, 1.0] and ci["overall"] == [0.0, 3.0]
    assert all(math.isnan(v) for v in confidence_intervals([1, 2], [1, 2])["plcc"])


def test_a_resample_of_copies_of_one_value_is_undefined_not_a_rounding_artefact():
    import numpy as np

    from ldct_bench.stats.metrics import weighted_correlations
    y = [0.1, 0.7, 1.3, 2.9, 3.3]
    p = [0.3, 0.3, 0.3, 1.7, 2.1]
    rows = weighted_correlations(y, p, np.array([[0, 7, 0, 0, 0], [3, 2, 2, 0, 0], [2, 0, 0, 3, 0]]))
    for name in ("plcc", "srocc", "krocc", "overall"):
        assert math.isnan(rows[name][0]) and math.isnan(rows[name][1])  # one item; scores 0.3 only
        assert rows[name][2] == pytest.approx(abs(correlations([0.1] * 2 + [2.9] * 3, [0.3] * 2 + [1.7] * 3)[name]))
