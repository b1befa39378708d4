"""How long the intervals a run computes after its last answer take (issue 11's teardown), and `compare`'s.

Data shaped like ours: 300 targets that are means of 5 integer ratings, answers with one decimal and
many whole numbers. Prints the best of 5 wall times.

    python benchmarks/bootstrap_speed.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ldct_bench.stats.metrics import confidence_intervals
from ldct_bench.stats.paired import paired_deltas


def best_of(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    n = 300
    targets = rng.integers(0, 5, (n, 5)).mean(axis=1)
    answers = [np.clip(np.round(targets + rng.normal(0, 0.7, n), 1), 0, 4) for _ in range(2)]
    answers[0][::2] = np.rint(answers[0][::2])
    records = [[{"id": i, "target": float(t), "score": float(s)} for i, (t, s) in enumerate(zip(targets, a))]
               for a in answers]
    print(f"confidence_intervals, n {n} (Fisher z, jackknife + t): "
          f"{best_of(lambda: confidence_intervals(targets, answers[0])) * 1000:.0f} ms")
    print(f"paired_deltas, n {n}, 2000 resamples (two runs): "
          f"{best_of(lambda: paired_deltas(*records, resamples=2000)) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
