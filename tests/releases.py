"""Cheap raw releases in the challenge's layout, for tests that need many or unusual files fast."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile

TRAIN_DIR, TEST_DIR = "LDCTIQAG2023_train", "LDCTIQAC_test"


def noisy_slice(seed: int) -> np.ndarray:
    """A 512x512 float32 slice in [0, 1] whose noise grows with `seed % 20` (what the noise baseline reads)."""
    rng = np.random.default_rng(seed)
    sigma = 0.004 + 0.002 * (seed % 20)
    return np.clip(0.74 + sigma * rng.standard_normal((512, 512)), 0.0, 1.0).astype(np.float32)


def score_for(seed: int) -> float:
    """Falls as the noise of `noisy_slice(seed)` rises, on the 0-4 scale in steps of 0.2."""
    return round(4.0 - 0.2 * (seed % 20), 1)


def write_split(folder: Path, names: list[str], subdir: str, label_file: str, first_seed: int = 0) -> Path:
    (folder / subdir).mkdir(parents=True, exist_ok=True)
    scores = {}
    for offset, name in enumerate(names):
        tifffile.imwrite(folder / subdir / name, noisy_slice(first_seed + offset))
        scores[name] = score_for(first_seed + offset)
    (folder / label_file).write_text(json.dumps(scores, indent=1))
    return folder


def write_small_release(root: Path, train_names: list[str], test_names: list[str]) -> tuple[Path, Path]:
    """Train and test splits named as in the challenge release, with the given image file names."""
    train = write_split(root / TRAIN_DIR, train_names, "image", "train.json")
    test = write_split(root / TEST_DIR, test_names, "images", "test.json", first_seed=7)
    return train, test
