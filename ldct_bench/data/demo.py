"""The SYNTHETIC demo task: CT-like slices with simulated low-dose noise and streaks.

Nothing here is patient data. Anatomy is a handful of ellipses in Hounsfield units; a dose
level sets the noise (quantum noise grows as 1/sqrt(dose) and with path length through the
body, correlated like filtered back-projection noise) and the sparse-view streaks. Five
simulated readers score the true quality on the 0-4 scale; the label is their mean, so labels
are multiples of 0.2 like the challenge's training set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage

SIZE = 512
REGIONS = ("liver", "kidney", "pelvis")
DOSES = (1.0, 0.5, 0.25, 0.12, 0.06, 0.03)
VIEWS = (720, 360, 180, 90)  # sparse-view streaks, independent of dose
N_TRAIN, N_TEST = 60, 30
READERS = 5
GENERATOR_VERSION = 3


def _ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float, angle: float = 0.0):
    c, s = np.cos(angle), np.sin(angle)
    y, x = yy - cy, xx - cx
    return ((c * x + s * y) / rx) ** 2 + ((-s * x + c * y) / ry) ** 2 <= 1.0


def anatomy_hu(rng: np.random.Generator, region: str) -> tuple[np.ndarray, np.ndarray]:
    """A noise-free slice in HU and its body mask."""
    yy, xx = np.mgrid[-1:1:SIZE * 1j, -1:1:SIZE * 1j]
    hu = np.full((SIZE, SIZE), -1000.0)
    ry, rx = 0.62 + rng.uniform(-0.05, 0.05), 0.86 + rng.uniform(-0.05, 0.04)
    body = _ellipse(yy, xx, 0.02, 0.0, ry, rx)
    hu[body] = -100.0  # subcutaneous fat
    hu[_ellipse(yy, xx, 0.02, 0.0, ry - 0.06, rx - 0.07)] = 40.0  # muscle / soft tissue
    hu[_ellipse(yy, xx, 0.40, 0.0, 0.10, 0.11)] = 700.0  # vertebral body
    hu[_ellipse(yy, xx, 0.40, 0.0, 0.06, 0.07)] = 250.0  # cancellous bone
    hu[_ellipse(yy, xx, 0.22, 0.08, 0.045, 0.045)] = 180.0  # aorta with contrast
    if region == "liver":
        hu[_ellipse(yy, xx, -0.05, -0.38, 0.36, 0.34, 0.3)] = 60.0
        hu[_ellipse(yy, xx, -0.05, 0.42, 0.16, 0.20)] = 45.0  # spleen / stomach wall
        hu[_ellipse(yy, xx, -0.1, 0.42, 0.09, 0.12)] = -800.0  # stomach gas
    elif region == "kidney":
        for side in (-1, 1):
            hu[_ellipse(yy, xx, 0.28, side * 0.33, 0.14, 0.09, side * 0.4)] = 150.0  # cortex
            hu[_ellipse(yy, xx, 0.28, side * 0.33, 0.08, 0.045, side * 0.4)] = 30.0  # medulla
        hu[_ellipse(yy, xx, -0.2, 0.0, 0.12, 0.3)] = 20.0  # bowel
    else:  # pelvis
        for side in (-1, 1):
            hu[_ellipse(yy, xx, 0.25, side * 0.45, 0.22, 0.09, side * 0.6)] = 800.0  # iliac wing
        hu[_ellipse(yy, xx, -0.15, 0.0, 0.15, 0.17)] = 5.0  # bladder
    for _ in range(rng.integers(2, 5)):  # low-contrast lesions and gas bubbles
        cy, cx = rng.uniform(-0.35, 0.35), rng.uniform(-0.55, 0.55)
        value = rng.choice([hu[int((cy + 1) * SIZE / 2), int((cx + 1) * SIZE / 2)] + rng.uniform(-35, 35), -900.0])
        hu[_ellipse(yy, xx, cy, cx, rng.uniform(0.02, 0.06), rng.uniform(0.02, 0.06)) & body] = value
    hu[(yy > 0.8) & (yy < 0.84) & (np.abs(xx) < 0.95)] = 200.0  # patient table
    return ndimage.gaussian_filter(hu, 0.7), body


def _smooth(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur, done at 1/8 resolution because only its broad shape matters."""
    small = ndimage.gaussian_filter(mask[::8, ::8].astype(float), sigma / 8)
    return ndimage.zoom(small, 8, order=1)


def degrade(rng: np.random.Generator, hu: np.ndarray, body: np.ndarray, dose: float, n_views: int) -> np.ndarray:
    """Low-dose noise and sparse-view streaks, both stronger at lower dose."""
    path = _smooth(body, 40)  # proxy for attenuation path length
    sigma_hu = 9.0 / np.sqrt(dose) * (0.7 + 0.8 * path)
    white = rng.standard_normal(hu.shape)
    correlated = ndimage.gaussian_filter(white, 0.9)
    correlated /= correlated.std()
    noisy = hu + sigma_hu * correlated
    if n_views < 720:
        yy, xx = np.mgrid[-1:1:SIZE * 1j, -1:1:SIZE * 1j]
        streaks = np.zeros_like(hu)
        for theta in rng.uniform(0, np.pi, size=12):
            coord = np.cos(theta) * xx + np.sin(theta) * yy
            profile = ndimage.gaussian_filter1d(rng.standard_normal(SIZE * 2), 1.5)
            streaks += np.interp(coord, np.linspace(-1.5, 1.5, SIZE * 2), profile)
        bone = _smooth(hu > 300, 25)
        noisy += streaks * (720.0 / n_views - 1.0) * 4.0 * (0.3 + 3.0 * bone) * body
    return noisy


def true_quality(rng: np.random.Generator, dose: float, n_views: int) -> float:
    """Latent quality on 0-4 that falls with the log of the dose and with streaks."""
    streaks = np.log2(VIEWS[0] / n_views)
    return float(np.clip(4.3 + 0.5 * np.log2(dose) - 0.4 * streaks + rng.normal(0, 0.3), 0.0, 4.0))


def reader_mean(rng: np.random.Generator, quality: float) -> float:
    ratings = np.clip(np.rint(quality + rng.normal(0, 0.55, READERS)), 0, 4)
    return round(float(ratings.mean()), 1)


def make_slice(seed: int) -> tuple[np.ndarray, float, str, float]:
    """One deterministic slice: float32 pixels in [0,1], score, region, dose."""
    rng = np.random.default_rng(seed)
    region = REGIONS[seed % len(REGIONS)]
    dose, n_views = DOSES[rng.integers(len(DOSES))], VIEWS[rng.integers(len(VIEWS))]
    hu, body = anatomy_hu(rng, region)
    noisy = degrade(rng, hu, body, dose, n_views)
    pixels = np.clip((noisy + 1000.0) / 1400.0, 0.0, 1.0).astype(np.float32)
    return pixels, reader_mean(rng, true_quality(rng, dose, n_views)), region, dose


def write_release(root: Path, n_train: int = N_TRAIN, n_test: int = N_TEST) -> tuple[Path, Path]:
    """Write slices in the challenge's own layout (what `prepare` reads); regions go to regions.json."""
    train_dir, test_dir = root / "LDCTIQAG2023_train", root / "LDCTIQAC_test"
    splits = [(train_dir, "image", "train.json", "{:04d}.tif", n_train, 0),
              (test_dir, "images", "test.json", "test{:03d}.tiff", n_test, 10_000)]
    regions: dict[str, str] = {}
    for folder, image_dir, label_file, pattern, count, offset in splits:
        (folder / image_dir).mkdir(parents=True, exist_ok=True)
        labels = {}
        for index in range(count):
            pixels, score, region, _ = make_slice(offset + index)
            name = pattern.format(index)
            tifffile.imwrite(folder / image_dir / name, pixels)
            labels[name] = score
            regions[name] = region
        (folder / label_file).write_text(json.dumps(labels, indent=1))
    (root / "regions.json").write_text(json.dumps(regions, indent=1))
    return train_dir, test_dir
