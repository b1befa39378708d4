"""The challenge's metrics: PLCC, SROCC, KROCC (tau-b) on raw predictions, overall = sum of |.|; their
intervals; and the metrics of many resamples at once (as item multiplicities) for paired comparisons."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit  # at start-up (0.2 s), not after the run's last answer; scipy.stats costs 0.7 s

NAMES = ("plcc", "srocc", "krocc")
ALL = (*NAMES, "overall")
# Where each metric can lie: overall sums three absolute values. Intervals never leave these bounds.
RANGES = {**{name: (-1.0, 1.0) for name in NAMES}, "overall": (0.0, 3.0)}
# What the metrics take for targets and scores: callers hold lists (records) or numpy columns (resamples).
Values = Sequence[float] | np.ndarray


def correlations(targets: Values, scores: Values) -> dict[str, float]:
    """Signed correlations and `overall`; NaN where undefined (fewer than 3 items or a constant side).

    The values scipy's pearsonr, spearmanr and kendalltau(variant="b") give (tests/test_metrics.py checks
    them to 1e-12), computed here with numpy: importing scipy.stats costs a run most of a second."""
    y, p = np.asarray(targets, dtype=float), np.asarray(scores, dtype=float)
    if len(y) < 3 or np.ptp(y) == 0 or np.ptp(p) == 0:
        return {**{name: math.nan for name in NAMES}, "overall": math.nan}
    values = weighted_correlations(y, p, np.ones((1, len(y))))
    return {name: float(values[name][0]) for name in ALL}


def undefined_reason(targets: Values, scores: Values) -> str | None:
    """Why `correlations` is NaN for these items (None when it is defined), so a table of n/a says why."""
    if len(targets) < 3:
        return f"metrics need at least 3 scored items; {len(targets)} {'was' if len(targets) == 1 else 'were'} scored"
    for side, values in (("predictions", scores), ("targets", targets)):
        if np.ptp(np.asarray(values, dtype=float)) == 0:
            return f"all {side} are equal ({values[0]:g}): correlations are undefined"
    return None


def resample_weights(n: int, resamples: int, seed: int) -> np.ndarray:
    """Seeded bootstrap resamples of n items as multiplicities: row r counts how often each item was drawn."""
    idx = np.random.default_rng(seed).integers(0, n, (resamples, n))
    rows = np.repeat(np.arange(resamples), n)
    return np.bincount(rows * n + idx.ravel(), minlength=resamples * n).reshape(resamples, n).astype(float)


def leave_one_out_weights(n: int) -> np.ndarray:
    """The jackknife's n samples as multiplicities (row i drops item i)."""
    return 1.0 - np.eye(n)


@dataclass(frozen=True)
class _Sample:
    """What the weighted metrics need from one set of items, computed once for every resample."""

    x: np.ndarray
    y: np.ndarray
    x_groups: tuple[np.ndarray, np.ndarray]  # (item order by value, start of each run of equal values)
    y_groups: tuple[np.ndarray, np.ndarray]
    concordance: np.ndarray  # sign(x_a - x_b) * sign(y_a - y_b): +1 concordant, -1 discordant, 0 tied


def _groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts


def _sample(x: np.ndarray, y: np.ndarray) -> _Sample:
    sx, sy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])
    # float32 is exact for the product w @ C: its entries are integers no larger than n (< 2**24)
    concordance = (sx * sy).astype(np.float32)
    return _Sample(x - x.mean(), y - y.mean(), _groups(x), _groups(y), concordance)


def _weighted_pearson(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson of each row's weighted sample; a and b are (n,) or (rows, n)."""
    m = w.sum(axis=1)
    ma, mb = (w * a).sum(axis=1) / m, (w * b).sum(axis=1) / m
    da, db = a - ma[:, None], b - mb[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * da * db).sum(axis=1) / np.sqrt((w * da * da).sum(axis=1) * (w * db * db).sum(axis=1))


def _group_totals(w: np.ndarray, groups: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    order, starts = groups
    return np.add.reduceat(w[:, order], starts, axis=1)


def _mid_ranks(w: np.ndarray, groups: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Average ranks each item gets in each row's weighted sample (what scipy's rankdata gives the copies)."""
    order, starts = groups
    totals = _group_totals(w, groups)
    group_rank = np.cumsum(totals, axis=1) - totals + (totals + 1) / 2
    starts_here = np.zeros(len(order), dtype=int)
    starts_here[starts] = 1
    group_of = np.empty(len(order), dtype=int)
    group_of[order] = np.cumsum(starts_here) - 1
    return group_rank[:, group_of]


def _untied(w: np.ndarray, groups: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """2x the number of pairs not tied on this side: m^2 - sum over values of (copies of that value)^2."""
    totals = _group_totals(w, groups)
    return w.sum(axis=1) ** 2 - (totals * totals).sum(axis=1)


def _weighted_kendall_b(w: np.ndarray, s: _Sample) -> np.ndarray:
    """Tau-b of each weighted sample. Copies of one item tie on both sides, so only pairs of distinct items
    count: 2 (P - Q) = w^T C w, and the tie terms come from the totals per distinct value."""
    twice_score = np.einsum("rn,rn->r", (w.astype(s.concordance.dtype) @ s.concordance).astype(float), w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return twice_score / np.sqrt(_untied(w, s.x_groups) * _untied(w, s.y_groups))


def _constant(w: np.ndarray, groups: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Rows whose sample holds one distinct value on this side (rounding must not turn 0/0 into a number)."""
    return np.count_nonzero(_group_totals(w, groups), axis=1) <= 1


def _weighted(s: _Sample, w: np.ndarray) -> dict[str, np.ndarray]:
    values = {
        "plcc": _weighted_pearson(w, s.x, s.y),
        "srocc": _weighted_pearson(w, _mid_ranks(w, s.x_groups), _mid_ranks(w, s.y_groups)),
        "krocc": _weighted_kendall_b(w, s),
    }
    undefined = _constant(w, s.x_groups) | _constant(w, s.y_groups) | (w.sum(axis=1) < 3)
    for name in NAMES:
        values[name][undefined] = math.nan
    values["overall"] = sum(np.abs(values[name]) for name in NAMES)
    return values


def weighted_correlations(targets: Values, scores: Values,
                          weights: np.ndarray) -> dict[str, np.ndarray]:
    """The metrics of many resamples at once, each given as item multiplicities (a row of `weights`);
    equal to `correlations` on the expanded sample, ties included, NaN where it is undefined."""
    s = _sample(np.asarray(targets, dtype=float), np.asarray(scores, dtype=float))
    return _weighted(s, np.atleast_2d(np.asarray(weights, dtype=float)))


def t_quantile(level: float, n: int) -> float:
    """The two-sided `level` quantile of Student's t with n - 1 degrees of freedom."""
    return float(stdtrit(n - 1, (1 + level) / 2))


def jackknife_se(values: np.ndarray) -> float:
    """Standard error from the n leave-one-out values of a statistic."""
    n = len(values)
    return math.sqrt((n - 1) / n * float(((values - values.mean()) ** 2).sum()))


def _to_z(values: np.ndarray | float, scale: float) -> np.ndarray:
    return np.arctanh(np.clip(np.asarray(values) / scale, -1 + 1e-12, 1 - 1e-12))


def _z_interval(estimate: float, jackknife: np.ndarray, bounds: tuple[float, float], level: float) -> list[float]:
    """Fisher z interval: estimate / scale to the z scale, jackknife SE and a t quantile there, then back.

    Overall / 3 maps back into (-3, 3), so a weak run's lower end would fall below 0, where no overall lies:
    it is clipped at the bound. The true overall is never below 0, so clipping cannot lower coverage."""
    if not math.isfinite(estimate):
        return [math.nan, math.nan]
    if not np.isfinite(jackknife).all():  # leaving one item out makes the metric undefined: nothing is known
        return list(bounds)
    scale = bounds[1]
    half = t_quantile(level, len(jackknife)) * jackknife_se(_to_z(jackknife, scale))
    z = float(_to_z(estimate, scale))
    return [max(bounds[0], float(scale * np.tanh(z - half))), float(scale * np.tanh(z + half))]


def confidence_intervals(targets: Values, scores: Values,
                         level: float = 0.95) -> dict[str, list[float]]:
    """Intervals for every metric: Fisher z with a jackknife SE and a t(n-1) quantile (overall as overall / 3,
    its lower end clipped at 0).

    benchmarks/ci_coverage.py chose it over the percentile and BCa bootstraps, which under-cover at n = 30
    (BCa: 0.927 for PLCC at rho 0.9). It needs no resampling, so it is deterministic and takes milliseconds."""
    n = len(targets)
    if n < 3:
        return {name: [math.nan, math.nan] for name in ALL}
    point = correlations(targets, scores)
    jackknife = weighted_correlations(targets, scores, leave_one_out_weights(n))
    return {name: _z_interval(point[name], jackknife[name], RANGES[name], level) for name in ALL}
