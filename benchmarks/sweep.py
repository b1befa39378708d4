"""A sweep through the real command: 6 points on 3 stand-in vendors, all at once, against the ideal.

Three stand-in servers (benchmarks/standin_server.py, each its own process) answer after 0.5 s and, like a
vendor's concurrency limit, refuse a 9th request in flight with 429 + Retry-After. The command is a real
`python -m ldct_bench -m ...` over 3 endpoints x shots 0 and 3 (6 points, 300 items each, few-shot with random
examples, `model.concurrency=8`, `cache.mode=off`), once with the default launcher (all points at once in one
process) and once with `hydra/launcher=basic` (one after another). Figures, from the servers' logs and the kernel:

- ideal: the busiest endpoint's requests / 8 x 0.5 s (its points share 8 in flight; endpoints run side by side);
  ratio = ideal / request phase (first request in at any server to last answer out at any server);
- 429s: requests the servers refused, over all requests;
- peak RSS of the command's process (ru_maxrss), whole run.

    python benchmarks/sweep.py [--items 300] [--launcher concurrent|basic ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

from common import bench_task, scratch
from throughput import command_env, control, phase_of, run_command, standin

LATENCY_S, LIMIT, ENDPOINTS = 0.5, 8, 3


def sweep_args(urls: list[str], task: Path, items: int, sweep_dir: Path, launcher: str) -> list[str]:
    return ["-m", "model=openai-compatible", "model.base_url=" + ",".join(urls), "model.model_id=standin",
            "model.api_key_env=BENCH_STANDIN_KEY", f"model.concurrency={LIMIT}", "task=ldct_iqa", f"task.path={task}",
            "strategy=few_shot", "strategy.selection=random", "shots=0,3", f"limit={items}", "cache.mode=off",
            "logger=none", f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep_dir}"]


def measure(launcher: str, items: int, task: Path, root: Path) -> dict:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(standin(LATENCY_S, 0, "--max-in-flight", str(LIMIT), "--retry-after", "1"))
                   for _ in range(ENDPOINTS)]
        urls = [url for url, _ in servers]
        run = run_command(sweep_args(urls, task, items, root / f"sweep-{launcher}", launcher),
                          command_env(root, root / "store"), root)
        logs = [json.loads(control(url, "/_log")) for url in urls]
    rows = [row for log in logs for row in log["rows"]]
    phase = phase_of(rows)
    busiest = max(len(log["rows"]) for log in logs)
    ideal = busiest / LIMIT * LATENCY_S
    refused = sum(log["refused"] for log in logs)
    return {"launcher": launcher, "requests": len(rows), "busiest": busiest, "phase_s": phase.seconds,
            "ideal_s": ideal, "ratio": ideal / phase.seconds, "refused": refused,
            "refused_share": refused / (len(rows) + refused), "peak_in_flight": phase.peak,
            "wall_s": run.ended - run.started, "peak_rss_mib": run.peak_rss_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--launcher", action="append", choices=("concurrent", "basic"))
    args = parser.parse_args()
    task = bench_task()
    root = scratch()
    warm = measure("concurrent", 6, task, root)  # renders the task's images into the store, untimed
    print(f"warm-up: {warm['requests']} requests")
    print(f"{'launcher':<11} {'requests':>8} {'busiest':>7} {'phase s':>8} {'ideal s':>8} {'ratio':>6} {'429s':>9} "
          f"{'wall s':>7} {'peak RSS':>9}")
    for launcher in args.launcher or ["concurrent", "basic"]:
        m = measure(launcher, args.items, task, root)
        print(f"{m['launcher']:<11} {m['requests']:>8} {m['busiest']:>7} {m['phase_s']:>8.1f} {m['ideal_s']:>8.1f} "
              f"{m['ratio']:>6.2f} {m['refused']:>4} ({m['refused_share']:.1%}) {m['wall_s']:>6.1f} "
              f"{m['peak_rss_mib']:>6.0f} MiB", flush=True)
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}; scratch {root}")


if __name__ == "__main__":
    main()
