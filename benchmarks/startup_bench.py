"""Start-up time: `python -m ldct_bench --help`, and the default demo run (cold build vs. warm).

    python benchmarks/startup_bench.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import scratch


def wall(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ldct_bench", *args], check=True, capture_output=True,
                   env={**os.environ, **env})
    return time.perf_counter() - started


def main() -> None:
    root = scratch()
    env = {"LDCT_BENCH_DATA": str(root / "data"), "LDCT_BENCH_CACHE": str(root / "cache")}
    helps = [wall(["--help"], env) for _ in range(3)]
    cold = wall([f"hydra.run.dir={root / 'cold'}"], env)
    warm = wall([f"hydra.run.dir={root / 'warm'}"], env)
    print(f"python -m ldct_bench --help:           {min(helps):.2f} s (best of 3)")
    print(f"demo run, cold (builds demo + noise):  {cold:.2f} s")
    print(f"demo run, warm (data and columns kept): {warm:.2f} s")


if __name__ == "__main__":
    main()
