"""The one way an LDCT slice becomes a picture for people and models: HU window to lossless PNG."""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image

HU_SCALE = 1400.0  # p = clip((HU + 1000) / 1400, 0, 1) in the challenge release
HU_OFFSET = -1000.0


def to_hu(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) * HU_SCALE + HU_OFFSET


def window_u8(pixels: np.ndarray, width: float = 350.0, level: float = 40.0) -> np.ndarray:
    """Float [0,1] slice -> 8-bit image at a HU window (soft tissue W350/L40 by default)."""
    lo = level - width / 2.0
    scaled = (to_hu(pixels) - lo) / width
    return np.rint(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_png(pixels: np.ndarray, width: float = 350.0, level: float = 40.0, size: int | None = None) -> bytes:
    """Windowed 8-bit PNG (lossless; JPEG would blur the very noise being judged)."""
    image = Image.fromarray(window_u8(pixels, width, level))
    if size is not None and size != image.width:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # zlib's run-length strategy: 0.59x the CPU of Pillow's default (level 6) and 0.7% smaller on the real
    # sample slices (benchmarks/png_level.py; BENCHMARKS.md). The level does not change RLE's output. Lossless.
    image.save(buffer, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
    return buffer.getvalue()
