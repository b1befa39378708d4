"""Start-up time: `python -m ldct_bench --help`, the default demo run (cold build vs. warm), and how soon a run on a
terminal says it is starting (the first byte on a pseudo-terminal).

    python benchmarks/startup_bench.py
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from common import scratch


def wall(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ldct_bench", *args], check=True, capture_output=True,
                   env={**os.environ, **env})
    return time.perf_counter() - started


def first_output_s(args: list[str], env: dict[str, str]) -> float:
    """Seconds from starting the command on a pseudo-terminal to its first byte of output."""
    leader, follower = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "ldct_bench", *args], stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower, env={**os.environ, **env})
    os.close(follower)
    select.select([leader], [], [], 120)
    first = time.perf_counter() - started
    while True:  # drain until the child closes the terminal
        try:
            if not os.read(leader, 65536):
                break
        except OSError:
            break
    process.wait(timeout=120)
    os.close(leader)
    return first


def main() -> None:
    root = scratch()
    env = {"LDCT_BENCH_DATA": str(root / "data"), "LDCT_BENCH_CACHE": str(root / "cache")}
    helps = [wall(["--help"], env) for _ in range(3)]
    cold = wall([f"hydra.run.dir={root / 'cold'}"], env)
    warm = wall([f"hydra.run.dir={root / 'warm'}"], env)
    print(f"python -m ldct_bench --help:           {min(helps):.2f} s (best of 3)")
    print(f"demo run, cold (builds demo + noise):  {cold:.2f} s")
    print(f"demo run, warm (data and columns kept): {warm:.2f} s")
    firsts = [first_output_s([f"hydra.run.dir={root / f'tty{i}'}"], env) for i in range(3)]
    print(f"first output of a run on a terminal:    {min(firsts):.2f} s (best of 3)")


if __name__ == "__main__":
    main()
