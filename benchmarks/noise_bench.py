"""Noise estimator: images per second on 512x512 slices, and its error on noise of known alpha and sigma.

    python benchmarks/noise_bench.py [--images 200] [--repeats 4]

Errors are relative (estimate / truth - 1), mean +- sd over repeats. On the wide ramp alpha and
sigma are separable; on CT anatomy only `level` (the std at the median body intensity, the figure
models see) is identifiable, and alpha/sigma are shown to make that visible.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ldct_bench.data import demo
from ldct_bench.metadata.noise import BODY_THRESHOLD, estimate_noise
from ldct_bench.testing.phantoms import add_noise, ct_anatomy, true_level, wide_ramp

GRID = [(0.0, 0.005), (5e-5, 0.005), (1e-4, 0.007), (2e-4, 0.01), (1e-3, 0.02), (1e-4, 0.002), (2e-3, 0.005),
        (1e-5, 0.01)]
TARGET_PER_S = 20.0


def speed(n_images: int) -> float:
    """Images per second on the demo's CT-like slices (noise, streaks, air, bone)."""
    slices = [demo.make_slice(seed)[0] for seed in range(10)]
    estimate_noise(slices[0])  # warm-up
    start = time.perf_counter()
    for i in range(n_images):
        estimate_noise(slices[i % len(slices)])
    return n_images / (time.perf_counter() - start)


def _cell(errors: list[float]) -> str:
    return f"{np.mean(errors):+7.1%} +-{np.std(errors):5.1%}"


def accuracy(kind: str, repeats: int) -> None:
    make, floor = (wide_ramp, 0.0) if kind == "wide ramp" else (ct_anatomy, BODY_THRESHOLD)
    print(f"\n{kind} (floor {floor}): relative error, mean +- sd over {repeats} images")
    print(f"{'alpha':>8} {'sigma':>7} | {'alpha err':>15} {'sigma err':>15} {'level err':>15}")
    rng = np.random.default_rng(0)
    for alpha, sigma in GRID:
        errors: dict[str, list[float]] = {"alpha": [], "sigma": [], "level": []}
        for _ in range(repeats):
            clean = make(rng)
            found = estimate_noise(add_noise(clean, alpha, sigma, rng), floor=floor)
            if alpha:
                errors["alpha"].append(found.alpha / alpha - 1.0)
            errors["sigma"].append(found.sigma / sigma - 1.0)
            errors["level"].append(found.level / true_level(clean, alpha, sigma, floor) - 1.0)
        alpha_cell = _cell(errors["alpha"]) if alpha else f"{'(true alpha 0)':>15}"
        print(f"{alpha:8.0e} {sigma:7.3f} | {alpha_cell} {_cell(errors['sigma'])} {_cell(errors['level'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    rate = speed(args.images)
    verdict = "meets" if rate >= TARGET_PER_S else "MISSES"
    print(f"speed: {rate:.0f} images/s ({1000 / rate:.1f} ms/image) on 512x512; {verdict} the target of "
          f"{TARGET_PER_S:.0f}/s")
    accuracy("wide ramp", args.repeats)
    accuracy("CT anatomy", args.repeats)


if __name__ == "__main__":
    main()
