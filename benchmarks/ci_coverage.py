"""Which 95% interval covers the true PLCC/SROCC/KROCC/overall 95% of the time on data shaped like ours?

Targets are means of 5 integer 0-4 ratings (multiples of 0.2); predictions have one decimal and half
of them are whole numbers (as models answer), so both sides carry ties. A latent bivariate normal pair
drives both; its correlation is set so that the population PLCC equals rho (0.2, 0.5, 0.7, 0.9), and the
true value of every metric is taken from one sample of 10**6. Every method sees the same 1000 bootstrap
draws and jackknife values per replication; the shipped methods are run through `confidence_intervals` and
`paired_delta` themselves. Prints coverage per method, metric, n and rho, the Monte Carlo standard error, the
median interval width and how often the shipped overall interval was clipped at 0; then the coverage of
paired intervals of B - A (two readers of the same items) for a true difference of 0 and of about 0.2.

    python benchmarks/ci_coverage.py [--reps 1000] [--paired-reps 400] [--resamples 1000]

About 4.5 minutes on the 2-core machine beside other work (a load of 1-3).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
from scipy import optimize, special, stats

from ldct_bench.stats.metrics import (
    ALL,
    confidence_intervals,
    correlations,
    jackknife_se,
    leave_one_out_weights,
    resample_weights,
    weighted_correlations,
)
from ldct_bench.stats.paired import paired_delta

SIZES, RHOS = (10, 30, 300), (0.2, 0.5, 0.7, 0.9)
Z = float(special.ndtri(0.975))


def draw_given(rng: np.random.Generator, truth: np.ndarray, latent: float,
               targets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Targets (5 raters' mean, unless given) and one reader's predictions correlated `latent` with the truth."""
    n = len(truth)
    if targets is None:
        ratings = np.clip(np.rint(2 + 1.0 * truth[:, None] + 0.6 * rng.standard_normal((n, 5))), 0, 4)
        targets = ratings.mean(axis=1)
    latent_pred = latent * truth + math.sqrt(1 - latent ** 2) * rng.standard_normal(n)
    pred = np.clip(np.round(2 + 1.0 * latent_pred, 1), 0, 4)
    whole = rng.random(n) < 0.5  # half the answers are whole numbers, as models give them
    pred[whole] = np.rint(pred[whole])
    return targets, pred


def draw(rng: np.random.Generator, n: int, latent: float) -> tuple[np.ndarray, np.ndarray]:
    return draw_given(rng, rng.standard_normal(n), latent)


def population(latent: float, size: int = 10 ** 6) -> dict[str, float]:
    """The true metrics, from scipy: `correlations` holds an n x n pair matrix, too big for 10**6 items."""
    targets, pred = draw(np.random.default_rng(12345), size, latent)
    values = {"plcc": stats.pearsonr(targets, pred)[0], "srocc": stats.spearmanr(targets, pred)[0],
              "krocc": stats.kendalltau(targets, pred, variant="b")[0]}
    return {**{name: float(v) for name, v in values.items()}, "overall": float(sum(map(abs, values.values())))}


def latent_for(rho: float) -> float:
    """The latent correlation whose population PLCC is rho (on a 2e5 sample; the truth uses 1e6)."""
    return optimize.brentq(lambda c: population(c, 200_000)["plcc"] - rho, 0.05, 0.999, xtol=1e-4)


def _atanh(r: np.ndarray | float, scale: float) -> np.ndarray:
    return np.arctanh(np.clip(np.asarray(r) / scale, -0.999999, 0.999999))


def _scale(name: str) -> float:
    return 3.0 if name == "overall" else 1.0


def percentile(name: str, est: float, boot: np.ndarray, jack: np.ndarray, n: int) -> list[float]:
    boot = boot[np.isfinite(boot)]
    return list(np.quantile(boot, [0.025, 0.975]))


def bca(name: str, est: float, boot: np.ndarray, jack: np.ndarray, n: int) -> list[float]:
    """Bias-corrected and accelerated percentiles (Efron 1987); z0 counts ties half, a from the jackknife."""
    boot, jack = boot[np.isfinite(boot)], jack[np.isfinite(jack)]
    below = (np.count_nonzero(boot < est) + 0.5 * np.count_nonzero(boot == est)) / len(boot)
    z0 = float(special.ndtri(np.clip(below, 0.5 / len(boot), 1 - 0.5 / len(boot))))
    d = jack.mean() - jack
    spread = float((d * d).sum())
    a = float((d ** 3).sum() / (6 * spread ** 1.5)) if spread > 0 else 0.0
    shares = []
    for z in (-Z, Z):
        t = z0 + z
        shares.append(float(special.ndtr(z0 + t / (1 - a * t))) if 1 - a * t > 0 else float(t > 0))
    return list(np.quantile(boot, shares))


def fisher_analytic(name: str, est: float, boot: np.ndarray, jack: np.ndarray, n: int) -> list[float]:
    """Normal-theory SEs on the z scale: Pearson 1/sqrt(n-3), Spearman Bonett-Wright, Kendall Fieller."""
    if name == "overall":
        return [math.nan, math.nan]
    se = {"plcc": 1 / math.sqrt(n - 3), "srocc": math.sqrt((1 + est ** 2 / 2) / (n - 3)),
          "krocc": math.sqrt(0.437 / (n - 4))}[name]
    z = _atanh(est, 1.0)
    return list(np.tanh([z - Z * se, z + Z * se]))


def fisher_bootstrap_se(name: str, est: float, boot: np.ndarray, jack: np.ndarray, n: int) -> list[float]:
    """Normal interval on the z scale (overall / 3 for overall) with the bootstrap's SE there."""
    scale = _scale(name)
    zb = _atanh(boot[np.isfinite(boot)], scale)
    z = _atanh(est, scale)
    se = zb.std(ddof=1)
    return list(scale * np.tanh([z - Z * se, z + Z * se]))


def fisher_bootstrap_se_t(name: str, est: float, boot: np.ndarray, jack: np.ndarray, n: int) -> list[float]:
    """As above with a t(n-1) quantile."""
    scale = _scale(name)
    zb = _atanh(boot[np.isfinite(boot)], scale)
    z, se, t = _atanh(est, scale), zb.std(ddof=1), stats.t.ppf(0.975, n - 1)
    return list(scale * np.tanh([z - t * se, z + t * se]))


def raw_jackknife_t(name: str, est: float, boot: np.ndarray, jack: np.ndarray, n: int) -> list[float]:
    """Jackknife SE with a t(n-1) quantile on the metric's own scale."""
    se, t = jackknife_se(jack[np.isfinite(jack)]), stats.t.ppf(0.975, n - 1)
    return [est - t * se, est + t * se]


METHODS: dict[str, Callable[..., list[float]]] = {
    "percentile": percentile, "BCa": bca, "Fisher z, normal-theory SE": fisher_analytic,
    "Fisher z, bootstrap SE": fisher_bootstrap_se, "Fisher z, bootstrap SE + t": fisher_bootstrap_se_t,
}
SHIPPED = "Fisher z, jackknife SE + t (shipped)"  # ldct_bench.stats.metrics.confidence_intervals itself
PAIRED_METHODS: dict[str, Callable[..., list[float]]] = {
    "percentile": percentile, "BCa": bca, "jackknife SE + t": raw_jackknife_t,
}
SHIPPED_PAIRED = "bootstrap SE + t (shipped)"  # ldct_bench.stats.paired.paired_delta itself


def replicate(rng: np.random.Generator, n: int, latent: float, resamples: int) -> dict[str, dict[str, list[float]]]:
    """One data set: every method's interval for every metric ({method: {metric: [lo, hi]}})."""
    while True:  # a data set whose metrics are defined (tiny n can draw a constant side)
        targets, pred = draw(rng, n, latent)
        point = correlations(targets, pred)
        if all(math.isfinite(v) for v in point.values()):
            break
    weights = np.vstack([resample_weights(n, resamples, int(rng.integers(2 ** 31))), leave_one_out_weights(n)])
    values = weighted_correlations(targets, pred, weights)
    out = {method: {name: fn(name, point[name], values[name][:resamples], values[name][resamples:], n)
                    for name in ALL} for method, fn in METHODS.items()}
    out[SHIPPED] = confidence_intervals(targets, pred)
    return out


def paired_coverage(reps: int, n: int, latent_a: float, latent_b: float, truth: dict[str, float],
                    resamples: int) -> dict[str, dict[str, float]]:
    """Share of intervals of B - A (same items, same resamples for both runs) holding the true difference."""
    rng = np.random.default_rng(7 + n)
    hits = {m: dict.fromkeys(ALL, 0) for m in (*PAIRED_METHODS, SHIPPED_PAIRED)}
    for _ in range(reps):
        truth_col = rng.standard_normal(n)  # one shared truth, two independent readers
        targets, a = draw_given(rng, truth_col, latent_a)
        _, b = draw_given(rng, truth_col, latent_b, targets)
        weights = np.vstack([resample_weights(n, resamples, int(rng.integers(2 ** 31))), leave_one_out_weights(n)])
        va, vb = weighted_correlations(targets, a, weights), weighted_correlations(targets, b, weights)
        pa, pb = correlations(targets, a), correlations(targets, b)
        for name in ALL:
            d, est = vb[name] - va[name], pb[name] - pa[name]
            for method, fn in PAIRED_METHODS.items():
                lo, hi = fn(name, est, d[:resamples], d[resamples:], n)
                hits[method][name] += lo <= truth[name] <= hi
            shipped = paired_delta(name, pa[name], pb[name], d[:resamples], n, 0.95)
            hits[SHIPPED_PAIRED][name] += shipped.low <= truth[name] <= shipped.high
    return {m: {name: count / reps for name, count in row.items()} for m, row in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000, help="data sets per (n, rho)")
    parser.add_argument("--paired-reps", type=int, default=400, help="data sets per paired case")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    mc = math.sqrt(0.95 * 0.05 / args.reps)
    print(f"{args.reps} replications per cell, {args.resamples} resamples; Monte Carlo SE of a coverage near "
          f"0.95: {mc:.3f} (a cell at 0.93 is {(0.95 - 0.93) / mc:.1f} SE below 0.95)")
    for rho in RHOS:
        latent = latent_for(rho)
        truth = population(latent)
        print(f"\nrho {rho} (latent {latent:.3f}); true " + ", ".join(f"{k} {v:.4f}" for k, v in truth.items()))
        print(f"{'n':>4} {'method':<36}" + "".join(f"{name:>9}" for name in ALL) + "   median width")
        for n in SIZES:
            rng = np.random.default_rng(1000 * n + int(rho * 10))
            cover = {m: dict.fromkeys(ALL, 0) for m in (*METHODS, SHIPPED)}
            widths = {m: {name: [] for name in ALL} for m in (*METHODS, SHIPPED)}
            clipped = 0
            for _ in range(args.reps):
                by_method = replicate(rng, n, latent, args.resamples)
                clipped += by_method[SHIPPED]["overall"][0] == 0.0 < by_method[SHIPPED]["overall"][1] < 3.0
                for method, intervals in by_method.items():
                    for name, (lo, hi) in intervals.items():
                        cover[method][name] += lo <= truth[name] <= hi
                        widths[method][name].append(hi - lo)
            for method in (*METHODS, SHIPPED):
                cells = "".join(f"{cover[method][name] / args.reps:9.3f}" if not math.isnan(widths[method][name][0])
                                else f"{'n/a':>9}" for name in ALL)
                width = " ".join(f"{np.nanmedian(widths[method][name]):.3f}" if not math.isnan(widths[method][name][0])
                                 else "n/a" for name in ALL)
                print(f"{n:>4} {method:<36}{cells}   {width}", flush=True)
            print(f"{'':>4} {'overall clipped at 0 (shipped)':<36}{clipped / args.reps:9.3f}", flush=True)
    latents = {rho: latent_for(rho) for rho in (0.5, 0.7)}
    truths = {rho: population(latent) for rho, latent in latents.items()}
    for n in (30, 300):
        for rho_a, rho_b in ((0.7, 0.7), (0.5, 0.7)):
            truth = {name: truths[rho_b][name] - truths[rho_a][name] for name in ALL}
            cover = paired_coverage(args.paired_reps, n, latents[rho_a], latents[rho_b], truth, args.resamples)
            print(f"\npaired B - A, n {n}, rho {rho_a} vs {rho_b} (true delta "
                  + ", ".join(f"{k} {v:+.4f}" for k, v in truth.items()) + f"), {args.paired_reps} replications")
            for method, row in cover.items():
                print(f"     {method:<36}" + "".join(f"{row[name]:9.3f}" for name in ALL), flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
