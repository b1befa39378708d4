"""Error feedback: requests this harness sends vs. the paper's protocol (6 calls per test item).

    python benchmarks/error_feedback_bench.py [--items 30]
"""

from __future__ import annotations

import argparse

from common import scratch, stub_model_args, stub_server, timed_run

PAPER_CALLS_PER_ITEM = 6  # 5 calibration images scored afresh + the test image, for every item


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=30)
    args = parser.parse_args()
    root = scratch()
    with stub_server(0.0) as url:
        wall, results = timed_run([*stub_model_args(url), "strategy=error_feedback", "metadata=noise",
                                   f"limit={args.items}", f"hydra.run.dir={root / 'run'}"],
                                  {"LDCT_BENCH_CACHE": str(root / "cache")})
    ours, paper = results["requests_this_run"], PAPER_CALLS_PER_ITEM * args.items
    print(f"test items: {args.items}, scored: {results['n_scored']}")
    print(f"requests sent: {ours} (test items + distinct calibration images)")
    print(f"paper's protocol: {paper} -> {ours / paper:.2f} of its requests, {wall:.1f} s wall")
    print(f"at 300 test items and a 40-image pool: {300 + 40} vs {PAPER_CALLS_PER_ITEM * 300} requests")


if __name__ == "__main__":
    main()
