"""The one render path: float [0,1] -> HU -> window -> 8-bit -> lossless PNG, checked at known pixel values."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ldct_bench.data.render import to_hu, to_png, window_u8


def from_hu(hu: np.ndarray | list[float]) -> np.ndarray:
    """The challenge's encoding p = clip((HU + 1000) / 1400, 0, 1) as float32, like the release."""
    return np.clip((np.asarray(hu, dtype=np.float64) + 1000.0) / 1400.0, 0.0, 1.0).astype(np.float32)


def test_release_encoding_maps_back_to_hounsfield_units():
    assert to_hu(np.array([0.0, 1.0, 1000 / 1400], np.float32)) == pytest.approx([-1000.0, 400.0, 0.0], abs=1e-3)


def test_soft_tissue_window_known_values():
    # W350/L40 spans HU -135..215: one gray level per 350/255 HU; air, fat and bone clip.
    levels = np.array([0, 1, 64, 128, 200, 254, 255])
    hu = -135.0 + 350.0 * levels / 255.0
    assert window_u8(from_hu(hu)).tolist() == levels.tolist()
    assert window_u8(from_hu([-1000.0, -65.0, -135.5, 215.5, 700.0])).tolist() == [0, 51, 0, 255, 255]


def test_window_is_set_by_width_and_level():
    pixels = from_hu([-1000.0, -1000.0 + 1400.0 * 100 / 255, 400.0])  # the full range: gray = 255 p
    assert window_u8(pixels, width=1400.0, level=-300.0).tolist() == [0, 100, 255]
    assert window_u8(from_hu([-160.0, -40.0]), width=80.0, level=-120.0).tolist() == [0, 255]


def test_png_is_lossless_native_size_grayscale():
    rng = np.random.default_rng(0)
    pixels = from_hu(rng.uniform(-300, 300, (512, 512)))
    decoded = Image.open(io.BytesIO(to_png(pixels)))
    assert decoded.format == "PNG" and decoded.mode == "L" and decoded.size == (512, 512)
    assert np.array_equal(np.asarray(decoded), window_u8(pixels))


def test_png_resized_only_when_asked():
    pixels = from_hu(np.full((512, 512), 40.0))
    decoded = np.asarray(Image.open(io.BytesIO(to_png(pixels, size=256))))
    assert decoded.shape == (256, 256) and np.all(np.abs(decoded.astype(int) - 128) <= 1)
