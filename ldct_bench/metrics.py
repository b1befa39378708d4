"""The challenge's metrics: PLCC, SROCC, KROCC (tau-b) on raw predictions, overall = sum of |.|,
and their BCa bootstrap intervals (chosen by benchmarks/ci_coverage.py: the percentile interval
covers the true PLCC only ~90% at n = 30)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import special, stats

NAMES = ("plcc", "srocc", "krocc")
ALL = (*NAMES, "overall")


def correlations(targets: Sequence[float], scores: Sequence[float]) -> dict[str, float]:
    """Signed correlations and `overall`; NaN where undefined (fewer than 3 items or a constant side)."""
    y, p = np.asarray(targets, dtype=float), np.asarray(scores, dtype=float)
    if len(y) < 3 or np.ptp(y) == 0 or np.ptp(p) == 0:
        return {**{name: math.nan for name in NAMES}, "overall": math.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = {
            "plcc": float(stats.pearsonr(y, p)[0]),
            "srocc": float(stats.spearmanr(y, p)[0]),
            "krocc": float(stats.kendalltau(y, p, variant="b")[0]),
        }
    values["overall"] = sum(abs(values[name]) for name in NAMES)
    return values


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
    # float32 is exact here: every partial sum of w^T C w is an integer below 2**24 for n < 4096
    concordance = (sx * sy).astype(np.float32 if len(x) < 4096 else np.float64)
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


def _weighted(s: _Sample, w: np.ndarray) -> dict[str, np.ndarray]:
    values = {
        "plcc": _weighted_pearson(w, s.x, s.y),
        "srocc": _weighted_pearson(w, _mid_ranks(w, s.x_groups), _mid_ranks(w, s.y_groups)),
        "krocc": _weighted_kendall_b(w, s),
    }
    values["overall"] = sum(np.abs(values[name]) for name in NAMES)
    return values


def weighted_correlations(targets: Sequence[float], scores: Sequence[float],
                          weights: np.ndarray) -> dict[str, np.ndarray]:
    """The metrics of many resamples at once, each given as item multiplicities (a row of `weights`);
    equal to `correlations` on the expanded sample, ties included, NaN where it is undefined."""
    s = _sample(np.asarray(targets, dtype=float), np.asarray(scores, dtype=float))
    return _weighted(s, np.atleast_2d(np.asarray(weights, dtype=float)))


def _bias_and_acceleration(estimate: float, draws: np.ndarray, jackknife: np.ndarray) -> tuple[float, float]:
    """BCa's z0 (median bias of the draws; ties count half) and a (skewness of the jackknife values)."""
    below = (np.count_nonzero(draws < estimate) + 0.5 * np.count_nonzero(draws == estimate)) / len(draws)
    z0 = float(special.ndtri(np.clip(below, 0.5 / len(draws), 1 - 0.5 / len(draws))))
    d = jackknife.mean() - jackknife
    spread = float((d * d).sum())
    return z0, float((d ** 3).sum() / (6 * spread ** 1.5)) if spread > 0 else 0.0


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def bca_interval(estimate: float, draws: np.ndarray, jackknife: np.ndarray,
                 level: float = 0.95) -> list[float]:
    """Bias-corrected and accelerated percentile interval (Efron 1987); NaNs in the draws are dropped."""
    draws, jackknife = _finite(draws), _finite(jackknife)
    if not math.isfinite(estimate) or len(draws) == 0 or len(jackknife) < 2:
        return [math.nan, math.nan]
    z0, a = _bias_and_acceleration(estimate, draws, jackknife)
    bounds = []
    for z in special.ndtri([(1 - level) / 2, (1 + level) / 2]):
        t = z0 + z
        shrink = 1 - a * t
        share = float(special.ndtr(z0 + t / shrink)) if shrink > 0 else float(t > 0)
        bounds.append(float(np.quantile(draws, share)))
    return bounds


def bca_p_value(estimate: float, draws: np.ndarray, jackknife: np.ndarray, null: float = 0.0) -> float:
    """Two-sided p-value that inverts `bca_interval`: the level at which an end of the interval meets `null`,
    so p < 1 - level exactly when that interval excludes `null`. Resolution about 1/len(draws)."""
    draws, jackknife = _finite(draws), _finite(jackknife)
    if not math.isfinite(estimate) or len(draws) == 0 or len(jackknife) < 2:
        return math.nan
    z0, a = _bias_and_acceleration(estimate, draws, jackknife)
    below = (np.count_nonzero(draws < null) + 0.5 * np.count_nonzero(draws == null)) / len(draws)
    share = np.clip(below, 0.5 / len(draws), 1 - 0.5 / len(draws))
    w = float(special.ndtri(share)) - z0  # solve ndtr(z0 + t / (1 - a t)) = share for t = z0 + z
    t = w / (1 + a * w) if 1 + a * w > 0 else math.copysign(math.inf, w)
    tail = float(special.ndtr(t - z0))
    return min(1.0, 2 * min(tail, 1 - tail))


def resampled(targets: Sequence[float], scores: Sequence[float], resamples: int,
              seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Bootstrap draws (seeded) and jackknife values of every metric, for BCa."""
    n = len(targets)
    values = weighted_correlations(targets, scores, np.vstack([resample_weights(n, resamples, seed),
                                                               leave_one_out_weights(n)]))
    return ({name: v[:resamples] for name, v in values.items()}, {name: v[resamples:] for name, v in values.items()})


def bootstrap_ci(targets: Sequence[float], scores: Sequence[float], resamples: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, list[float]]:
    """BCa intervals from resampling items in pairs (seeded, so reruns agree)."""
    if len(targets) < 3 or resamples <= 0:
        return {name: [math.nan, math.nan] for name in ALL}
    point = correlations(targets, scores)
    draws, jackknife = resampled(targets, scores, resamples, seed)
    return {name: bca_interval(point[name], draws[name], jackknife[name], level) for name in ALL}
