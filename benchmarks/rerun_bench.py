"""Identical rerun: requests sent and wall time of a first run vs. the same run again (cache + journal).

    python benchmarks/rerun_bench.py [--latency 0.2] [--items 30]
"""

from __future__ import annotations

import argparse

from common import scratch, stub_model_args, stub_server, timed_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--items", type=int, default=30)
    args = parser.parse_args()
    root = scratch()
    env = {"LDCT_BENCH_CACHE": str(root / "cache")}
    with stub_server(args.latency) as url:
        base = [*stub_model_args(url), "strategy=few_shot", "shots=2", f"limit={args.items}"]
        first_wall, first = timed_run([*base, f"hydra.run.dir={root / 'first'}"], env)
        same_wall, same = timed_run([*base, f"hydra.run.dir={root / 'first'}"], env)
        fresh_wall, fresh = timed_run([*base, f"hydra.run.dir={root / 'fresh-dir'}"], env)
    print(f"first run:                 {first['requests_this_run']:4d} requests, {first_wall:6.2f} s wall")
    print(f"same command again:        {same['requests_this_run']:4d} requests, {same_wall:6.2f} s wall (journal)")
    print(f"same config, new run dir:  {fresh['requests_this_run']:4d} requests, {fresh_wall:6.2f} s wall (cache)")
    print(f"metrics identical: {first['metrics'] == same['metrics'] == fresh['metrics']}")


if __name__ == "__main__":
    main()
