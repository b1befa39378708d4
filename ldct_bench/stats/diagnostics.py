"""Where a model's scores go wrong, beyond the correlations: bias, range compression, collapse onto a few
values, and errors by true-score band and by region.

A correlation says how well predictions are ordered, not that a model calls everything "Fair", or scores
one region a point too high; these numbers do. Pure: anything with a target, a score and meta in (a journal
record is one), a JSON-safe dict out (undefined values are None), so results.json, W&B, the leaderboard and the
viewer all show the same figures.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ldct_bench.stats.metrics import NAMES, confidence_intervals, correlations

# True-score bands: the lower bound is included, the last band is closed (a 4.0 falls in "3-4").
BANDS = (("0-1", 0.0, 1.0), ("1-2", 1.0, 2.0), ("2-3", 2.0, 3.0), ("3-4", 3.0, 4.0))
MIN_REGION_N = 10  # fewer items than this give no correlations for a region: their intervals span everything
DIGITS = 6  # as results.json rounds its metrics
PREFIX = "diagnostics"  # of the flat names W&B's summary gives them: diagnostics/bias, diagnostics/by_band/0-1/mae
# What each overall figure tells a reader (the viewer's and the leaderboard's tooltips).
MEANING = {
    "bias": "mean(prediction - true): above 0 the model scores too high",
    "mae": "mean |prediction - true|",
    "slope": "least squares prediction = intercept + slope x true; 1 is ideal, under 1 the model compresses the scale",
    "intercept": "of the least-squares line",
    "sd_ratio": "std(prediction) / std(true); under 1 the model compresses the range",
    "distinct": "distinct predictions (rounded to 0.01)",
    "mode_share": "share of items on the most common prediction (rounded to 0.1)",
}


class Graded(Protocol):
    """One item's answer as the diagnostics need it (ldct_bench.run.records.Prediction is one)."""

    @property
    def target(self) -> float: ...

    @property
    def score(self) -> float | None: ...  # None: the item failed, and counts nowhere

    @property
    def meta(self) -> Mapping[str, Any]: ...  # its `region`, if known


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), DIGITS)


def _errors(targets: np.ndarray, preds: np.ndarray) -> dict[str, Any]:
    """n, mae and bias of one group of items (None when it is empty)."""
    if not len(targets):
        return {"n": 0, "mae": None, "bias": None}
    return {"n": int(len(targets)), "mae": _number(np.abs(preds - targets).mean()),
            "bias": _number((preds - targets).mean())}


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    """Half up, as people round: the mean of 2.0 and 2.1 is 2.05, and it counts as 2.1 (binary floats and
    numpy's half-to-even would split such means between 2.0 and 2.1)."""
    scale = 10.0 ** digits
    return (np.floor(values * scale + 0.5 + 1e-9) / scale).round(digits).tolist()


def band_of(target: float) -> str | None:
    """The name of the band a true score falls in (4.0 in "3-4"); None outside 0-4."""
    for name, low, high in BANDS:
        if low <= target < high:
            return name
    return BANDS[-1][0] if target == BANDS[-1][2] else None


def _line(targets: np.ndarray, preds: np.ndarray) -> tuple[float | None, float | None]:
    """Least squares of pred = intercept + slope * true; undefined when the targets do not vary."""
    if len(targets) < 2 or np.ptp(targets) == 0:
        return None, None
    dt = targets - targets.mean()
    slope = float((dt * (preds - preds.mean())).sum() / (dt * dt).sum())
    return _number(slope), _number(preds.mean() - slope * targets.mean())


def _region(targets: np.ndarray, preds: np.ndarray) -> dict[str, Any]:
    """A region's errors, and its correlations with 95% intervals when it has MIN_REGION_N items or more
    (None below that, so every region carries the same keys)."""
    summary = _errors(targets, preds)
    enough = len(targets) >= MIN_REGION_N
    values = correlations(targets, preds) if enough else {}
    intervals = confidence_intervals(targets, preds) if enough else {}
    for name in NAMES:
        summary[name] = _number(values.get(name))
    summary["ci"] = {name: [_number(v) for v in intervals.get(name, (None, None))] for name in NAMES}
    return summary


def _groups(pairs: Iterable[tuple[str | None, float, float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    by_key: dict[str, list[tuple[float, float]]] = {}
    for key, target, pred in pairs:
        if key is not None:
            by_key.setdefault(key, []).append((target, pred))
    return {key: (np.array([t for t, _ in values]), np.array([p for _, p in values])) for key, values in by_key.items()}


def diagnostics(records: Sequence[Graded]) -> dict[str, Any]:
    """bias, mae, slope, intercept, sd_ratio, distinct, mode_share, by_band and by_region over the scored items
    (pred = the item's score, true = its target); by_region is None when no item carries a region."""
    scored = [r for r in records if r.score is not None]
    targets = np.array([r.target for r in scored], dtype=float)
    preds = np.array([r.score for r in scored], dtype=float)
    overall = _errors(targets, preds)
    slope, intercept = _line(targets, preds)
    spread = float(targets.std()) if len(targets) else 0.0
    tenths = Counter(_rounded(preds, 1))
    bands = _groups((band_of(t), t, p) for t, p in zip(targets, preds))
    regions = [r.meta.get("region") for r in scored]
    by_region = _groups((None if g is None else str(g), t, p) for g, t, p in zip(regions, targets, preds))
    return {
        "bias": overall["bias"], "mae": overall["mae"], "slope": slope, "intercept": intercept,
        "sd_ratio": _number(preds.std() / spread) if spread > 0 else None,
        "distinct": len(set(_rounded(preds, 2))),
        "mode_share": _number(max(tenths.values()) / len(preds)) if len(preds) else None,
        "by_band": {name: _errors(*bands.get(name, (np.zeros(0), np.zeros(0)))) for name, _, _ in BANDS},
        "by_region": {name: _region(*by_region[name]) for name in sorted(by_region)} if by_region else None,
    }


def flat(figures: Mapping[str, Any], prefix: str = PREFIX) -> dict[str, Any]:
    """The figures under `a/b/c` names, one number (or interval) each: W&B's summary holds no nested charts."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, Mapping):
            out.update(flat(value, f"{prefix}/{key}"))
        else:
            out[f"{prefix}/{key}"] = value
    return out
