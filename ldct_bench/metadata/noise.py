"""Poisson-Gaussian noise estimate (variance = alpha * x + sigma^2) from one slice, numpy/scipy only.

Stands in for FBI-Denoiser's PGE-Net. Immerkaer's 3x3 mask (the outer product of [1, -2, 1],
divided by 6 for unit noise gain) cancels flat and linear structure, so its response is noise
where the image is smooth. The slice is cut into small blocks; each block that lies wholly
inside the body (no air, nothing clipped) gives its mean intensity and a robust (median
absolute deviation) variance of that response, which edges crossing the block barely move.
Blocks are grouped by intensity, and alpha and sigma^2 are fitted to the groups' median
variances by non-negative least squares.

Body tissue in CT sits in a narrow intensity band (about 0.68-0.80), where alpha and sigma
trade off against each other: the noise std at the median body intensity (`level`) is well
determined there, the split into alpha and sigma is not. CT noise after back-projection is
also spatially correlated, which a white-noise estimator under-reads: on real slices `level`
is a monotone proxy for the noise, not its calibrated std.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ldct_bench.data.task import Task

_MAD_TO_STD = 1.4826
BODY_THRESHOLD = 0.45  # p > 0.45 is HU > -370: inside the body, not air or lung
BLOCK = 10  # block side in pixels of the 3x3-filtered image (510 / 10 = 51 blocks a side)
MIN_BLOCKS = 8


@dataclass(frozen=True)
class NoiseEstimate:
    alpha: float
    sigma: float
    level: float  # noise std at the median body intensity: the single figure shown to models
    blocks: int  # how many blocks the fit used (0 = nothing usable; all figures are then 0)


def _box3(x: np.ndarray, op=np.add) -> np.ndarray:
    """A 3x3 neighbourhood reduction (sum, min or max) on the interior, by shifted views."""
    rows = op(op(x[:-2], x[1:-1]), x[2:])
    return op(op(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _immerkaer(x: np.ndarray) -> np.ndarray:
    """Second difference along rows then columns: zero on planes, unit noise gain after /6."""
    rows = x[:-2] - 2.0 * x[1:-1] + x[2:]
    return (rows[:, :-2] - 2.0 * rows[:, 1:-1] + rows[:, 2:]) / 6.0


def _blocks(a: np.ndarray, size: int) -> np.ndarray:
    """(n_blocks, size*size) view of the top-left part of `a` that tiles into size x size blocks."""
    h, w = (a.shape[0] // size) * size, (a.shape[1] // size) * size
    return a[:h, :w].reshape(h // size, size, w // size, size).swapaxes(1, 2).reshape(-1, size * size)


def _row_median(a: np.ndarray) -> np.ndarray:
    """Median of each row of an (n, even m) array; np.median is several times slower here."""
    half = a.shape[1] // 2
    middle = np.partition(a, [half - 1, half], axis=1)
    return (middle[:, half - 1] + middle[:, half]) / 2.0


def estimate_noise(pixels: np.ndarray, floor: float = BODY_THRESHOLD, bins: int = 8) -> NoiseEstimate:
    """Fit alpha and sigma on one [0,1] slice, using only pixels whose 3x3 neighbourhood is in (floor, 1)."""
    x = np.asarray(pixels, dtype=np.float32)
    inside = (_box3(x, np.minimum) > floor) & (_box3(x, np.maximum) < 1.0)
    whole = _blocks(inside, BLOCK).all(axis=1)
    if whole.sum() < MIN_BLOCKS:
        return NoiseEstimate(0.0, 0.0, 0.0, 0)
    response = _blocks(_immerkaer(x), BLOCK)[whole]
    means = _blocks(_box3(x), BLOCK)[whole].mean(axis=1) / 9.0
    centre = _row_median(response)[:, None]
    variances = (_MAD_TO_STD * _row_median(np.abs(response - centre))) ** 2
    groups = np.array_split(np.argsort(means), min(bins, means.size // 4))
    centres = np.array([np.median(means[g]) for g in groups], dtype=np.float64)
    group_var = np.array([np.median(variances[g]) for g in groups], dtype=np.float64)
    weights = np.sqrt([len(g) for g in groups]) / np.maximum(group_var, 1e-12)  # relative residuals
    design = np.stack([centres, np.ones_like(centres)], axis=1)
    from scipy.optimize import nnls  # a quarter second to import: only where a noise level is computed

    (alpha, sigma2), _ = nnls(design * weights[:, None], group_var * weights)
    level = float(np.sqrt(alpha * np.median(means) + sigma2))
    return NoiseEstimate(float(alpha), float(np.sqrt(sigma2)), level, int(whole.sum()))


def noise_level(pixels: np.ndarray) -> float:
    """The one figure stored as the `noise` column."""
    return estimate_noise(pixels).level


ESTIMATOR_VERSION = 2  # bump when the estimate changes, so cached columns are recomputed


def noise_column(task: Task) -> dict[str, float]:
    """Every image's noise level, computed once per data fingerprint and estimator version."""
    return task.column("noise", noise_level, version=ESTIMATOR_VERSION)
