"""Clean test images and Poisson-Gaussian noise with known parameters, to validate the noise estimator.

Two kinds of clean image, because they test different things: a wide intensity ramp (0.05 to
0.95) where alpha and sigma can be told apart, and the demo's CT anatomy, whose body
intensities sit in a narrow band where only the total noise level is identifiable.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ldct_bench.data import demo

SIZE = demo.SIZE


def wide_ramp(rng: np.random.Generator, lo: float = 0.05, hi: float = 0.95) -> np.ndarray:
    """A left-to-right intensity ramp with gentle smooth texture, no air and nothing clipped."""
    ramp = np.tile(np.linspace(lo, hi, SIZE), (SIZE, 1))
    texture = ndimage.gaussian_filter(rng.standard_normal((SIZE, SIZE)), 25)
    return np.clip(ramp + 0.02 * texture / texture.std(), 0.0, 1.0)


def ct_anatomy(rng: np.random.Generator) -> np.ndarray:
    """The demo's noise-free CT slice (air, fat, soft tissue, bone) on the [0,1] data scale."""
    region = demo.REGIONS[int(rng.integers(len(demo.REGIONS)))]
    hu, _ = demo.anatomy_hu(rng, region)
    return np.clip((hu + 1000.0) / 1400.0, 0.0, 1.0)


def add_noise(clean: np.ndarray, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """z = x + n with var(n) = alpha * x + sigma^2, clipped to [0,1] like the challenge data."""
    std = np.sqrt(alpha * clean + sigma * sigma)
    return np.clip(clean + std * rng.standard_normal(clean.shape), 0.0, 1.0).astype(np.float32)


def true_level(clean: np.ndarray, alpha: float, sigma: float, floor: float) -> float:
    """The noise std at the median intensity of the pixels the estimator may use (floor < x < 1)."""
    inside = clean[(clean > floor) & (clean < 1.0)]
    return float(np.sqrt(alpha * np.median(inside) + sigma * sigma))
