"""Poisson-Gaussian noise estimate (variance = alpha * x + sigma^2) from one slice, numpy/scipy only.

Stands in for FBI-Denoiser's PGE-Net. Immerkaer's 3x3 mask cancels flat and linear structure,
so its response is pure noise where the image is smooth; the robust variance of that response
in bins of local mean, inside the body and away from edges, is fitted by a line in the mean.
CT noise after back-projection is correlated, so on real slices this is a monotone proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

_SECOND_DIFF = np.array([1.0, -2.0, 1.0])  # Immerkaer's mask is its outer product; /6 gives unit gain
_MAD_TO_STD = 1.4826
BODY_THRESHOLD = 0.45  # p > 0.45 is HU > -370: inside the body, not air or lung


@dataclass(frozen=True)
class NoiseEstimate:
    alpha: float
    sigma: float
    level: float  # noise std at the median body intensity: the single figure shown to models


def body_mask(pixels: np.ndarray) -> np.ndarray:
    """Smooth tissue inside the body: no air, no clipped pixels, no edges."""
    inside = (pixels > BODY_THRESHOLD) & (pixels < 1.0)
    inside = ndimage.minimum_filter(inside, size=7)
    smooth = ndimage.uniform_filter(pixels.astype(np.float32), 5)
    gradient = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))
    if inside.any():
        inside &= gradient <= np.percentile(gradient[inside], 80)
    return inside


def estimate_noise(pixels: np.ndarray, bins: int = 12) -> NoiseEstimate:
    """Fit alpha and sigma on one [0,1] slice."""
    image = pixels.astype(np.float64)
    response = ndimage.correlate1d(ndimage.correlate1d(image, _SECOND_DIFF, 0), _SECOND_DIFF, 1) / 6.0
    mean = ndimage.uniform_filter(image, 3)
    mask = body_mask(pixels)
    if mask.sum() < 500:
        mask = (pixels > 0) & (pixels < 1)
    r, m = response[mask], mean[mask]
    if r.size < 50:
        return NoiseEstimate(0.0, 0.0, 0.0)
    edges = np.quantile(m, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, bins - 1)
    centers, variances, weights = [], [], []
    for b in range(bins):
        chunk = r[which == b]
        if chunk.size >= 30:
            centers.append(m[which == b].mean())
            variances.append((_MAD_TO_STD * np.median(np.abs(chunk - np.median(chunk)))) ** 2)
            weights.append(chunk.size)
    centers_a, var_a, w = np.asarray(centers), np.asarray(variances), np.sqrt(np.asarray(weights))
    if centers_a.size >= 2 and np.ptp(centers_a) > 1e-6:
        design = np.stack([centers_a, np.ones_like(centers_a)], axis=1) * w[:, None]
        alpha, sigma2 = np.linalg.lstsq(design, var_a * w, rcond=None)[0]
    else:
        alpha, sigma2 = 0.0, float(var_a.mean())
    if alpha < 0:
        alpha, sigma2 = 0.0, float(np.average(var_a, weights=w))
    if sigma2 < 0:
        sigma2 = 0.0
        alpha = float(np.sum(centers_a * var_a * w**2) / np.sum(centers_a**2 * w**2))
    level = float(np.sqrt(max(alpha * np.median(m) + sigma2, 0.0)))
    return NoiseEstimate(float(alpha), float(np.sqrt(sigma2)), level)


def noise_level(pixels: np.ndarray) -> float:
    """The one figure stored as the `noise` column."""
    return estimate_noise(pixels).level
