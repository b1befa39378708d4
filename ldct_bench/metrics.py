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


def bootstrap_ci(targets: Sequence[float], scores: Sequence[float], resamples: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, list[float]]:
    """Percentile CIs from paired resampling of items (seeded, so reruns agree)."""
    y, p = np.asarray(targets, dtype=float), np.asarray(scores, dtype=float)
    names = (*NAMES, "overall")
    if len(y) < 3 or resamples <= 0:
        return {name: [math.nan, math.nan] for name in names}
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in names}
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        for name, value in correlations(y[idx], p[idx]).items():
            draws[name].append(value)
    tail = (1 - level) / 2 * 100
    out = {}
    for name, values in draws.items():
        finite = np.asarray([v for v in values if math.isfinite(v)])
        out[name] = ([float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))]
                     if len(finite) else [math.nan, math.nan])
    return out
