"""The noise estimator against Poisson-Gaussian noise of known alpha and sigma, and on the demo's slices."""

import numpy as np
import pytest
from scipy import stats

from ldct_bench.data import demo
from ldct_bench.metadata.noise import BODY_THRESHOLD, estimate_noise, noise_level
from ldct_bench.testing.phantoms import add_noise, ct_anatomy, true_level, wide_ramp

# (alpha, sigma) pairs whose two terms are of similar size at mid-range (alpha * 0.5 ~ sigma^2)
BOTH_TERMS = [(5e-5, 0.005), (1e-4, 0.007), (2e-4, 0.01), (1e-3, 0.02)]
CT_LEVELS = [(1e-4, 0.002), (4e-4, 0.005), (1e-3, 0.01), (1e-5, 0.01), (2e-3, 0.001)]


@pytest.mark.parametrize("alpha,sigma", BOTH_TERMS)
def test_wide_intensity_range_recovers_alpha_and_sigma(alpha, sigma):
    rng = np.random.default_rng(int(alpha * 1e6 + sigma * 1e4))
    clean = wide_ramp(rng)
    estimate = estimate_noise(add_noise(clean, alpha, sigma, rng), floor=0.0)
    assert estimate.alpha == pytest.approx(alpha, rel=0.10)
    assert estimate.sigma == pytest.approx(sigma, rel=0.10)
    assert estimate.level == pytest.approx(true_level(clean, alpha, sigma, 0.0), rel=0.05)
    for x in (0.1, 0.5, 0.9):  # the whole variance function, not only its two numbers
        assert estimate.alpha * x + estimate.sigma**2 == pytest.approx(alpha * x + sigma**2, rel=0.10)


@pytest.mark.parametrize("alpha,sigma", CT_LEVELS)
def test_ct_body_band_gets_the_noise_level_right(alpha, sigma):
    """Body tissue spans a narrow band, so only the total level is identifiable there: that is what is shown."""
    rng = np.random.default_rng(int(alpha * 1e6 + sigma * 1e4) + 1)
    clean = ct_anatomy(rng)
    estimate = estimate_noise(add_noise(clean, alpha, sigma, rng))
    assert estimate.blocks > 300
    assert estimate.level == pytest.approx(true_level(clean, alpha, sigma, BODY_THRESHOLD), rel=0.05)


def test_clipped_pixels_are_left_out():
    rng = np.random.default_rng(5)
    noisy = add_noise(wide_ramp(rng), 4e-4, 0.005, rng)
    saturated = noisy.copy()
    saturated[:, 400:] = 1.0  # a clipped band (metal, or the top of the range)
    saturated[:100, :] = 0.0  # and air below the range
    full, cut = estimate_noise(noisy, floor=0.0), estimate_noise(saturated, floor=0.0)
    assert cut.blocks < full.blocks
    assert cut.alpha * 0.5 + cut.sigma**2 == pytest.approx(full.alpha * 0.5 + full.sigma**2, rel=0.10)


def test_noise_level_rises_as_dose_falls_on_the_demo_slices():
    slices = [demo.make_slice(seed) for seed in range(12)]
    levels = [noise_level(pixels) for pixels, *_ in slices]
    doses = [dose for *_, dose in slices]
    assert stats.spearmanr(levels, doses)[0] < -0.9


def test_nothing_usable_gives_zeros_not_an_error():
    for image in (np.zeros((512, 512), np.float32), np.ones((512, 512), np.float32)):
        estimate = estimate_noise(image)
        assert (estimate.alpha, estimate.sigma, estimate.level, estimate.blocks) == (0.0, 0.0, 0.0, 0)
    flat = np.full((512, 512), 0.7, np.float32)
    assert estimate_noise(flat).level == 0.0  # a noiseless body is zero noise, not a failure


def test_input_type_does_not_matter():
    rng = np.random.default_rng(9)
    noisy = add_noise(ct_anatomy(rng), 4e-4, 0.005, rng)
    assert noise_level(noisy.astype(np.float64)) == pytest.approx(noise_level(noisy), rel=1e-4)
