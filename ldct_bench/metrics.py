"""The challenge's metrics: PLCC, SROCC, KROCC (tau-b) on raw predictions, overall = sum of |.|."""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from scipy import stats

NAMES = ("plcc", "srocc", "krocc")


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


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def _kendall_b_rows(a: np.ndarray, b: np.ndarray, chunk: int = 16) -> np.ndarray:
    """Kendall's tau-b of each row pair: (P - Q) / sqrt((pairs - ties in a) * (pairs - ties in b))."""
    n = a.shape[1]
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    pairs = n * (n - 1) / 2
    out = np.empty(a.shape[0])
    for start in range(0, a.shape[0], chunk):
        sa = np.sign(a[start:start + chunk, :, None] - a[start:start + chunk, None, :])[:, upper]
        sb = np.sign(b[start:start + chunk, :, None] - b[start:start + chunk, None, :])[:, upper]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + chunk] = (sa * sb).sum(axis=1) / np.sqrt(
                (pairs - (sa == 0).sum(axis=1)) * (pairs - (sb == 0).sum(axis=1)))
    return out


def resampled_correlations(targets: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
    """The metrics of many resamples at once (rows of targets/scores); the same values scipy gives."""
    values = {
        "plcc": _pearson_rows(targets, scores),
        "srocc": _pearson_rows(stats.rankdata(targets, axis=1), stats.rankdata(scores, axis=1)),
        "krocc": _kendall_b_rows(targets, scores),
    }
    values["overall"] = sum(np.abs(values[name]) for name in NAMES)
    return values


def bootstrap_ci(targets: Sequence[float], scores: Sequence[float], resamples: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, list[float]]:
    """Percentile CIs from paired resampling of items (seeded, so reruns agree)."""
    y, p = np.asarray(targets, dtype=float), np.asarray(scores, dtype=float)
    names = (*NAMES, "overall")
    if len(y) < 3 or resamples <= 0:
        return {name: [math.nan, math.nan] for name in names}
    idx = np.random.default_rng(seed).integers(0, len(y), (resamples, len(y)))
    draws = resampled_correlations(y[idx], p[idx])
    tail = (1 - level) / 2 * 100
    out = {}
    for name in names:
        finite = draws[name][np.isfinite(draws[name])]
        out[name] = ([float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))]
                     if len(finite) else [math.nan, math.nan])
    return out
