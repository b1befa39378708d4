"""batch=true through the real command, against the local server's stand-in of OpenAI's Batch API.

The stand-in (ldct_bench/testing/stub_server.py + batch_stub.py, in this process) answers a batch's lines over
--batch-seconds with exactly what its chat endpoint would answer, writes them in shuffled order, and can expire a
batch half done and fail some lines with 500. The command (`python -m ldct_bench ... batch=true`, a subprocess)
scores 100 items of the 300-item benchmark task, few-shot with 3 examples, at made-up prices of $2 / $8 per
million tokens. Printed: batches made, chat requests, lines paid (answered 200), whether every item's score and
examples equal those of the same run through chat, and both runs' dollars.

    python benchmarks/batch.py [--items 100] [--batch-seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import bench_task, scratch

from ldct_bench.testing.stub_server import StubState, make_server


def run(url: str, task: Path, items: int, run_dir: Path, root: Path, *extra: str) -> float:
    args = ["model=openai-compatible", f"model.base_url={url}", "model.model_id=stub", "model.api_key_env=STUB_KEY",
            "model.price_input_per_mtok=2", "model.price_output_per_mtok=8", "task=ldct_iqa", f"task.path={task}",
            "strategy=few_shot", "shots=3", f"limit={items}", "cache.mode=off", "logger=none", "batch_poll_s=0.5",
            f"hydra.run.dir={run_dir}", *extra]
    env = {**os.environ, "STUB_KEY": "bench", "LDCT_BENCH_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1",
           "LDCT_BENCH_CARDS": "", "WANDB_MODE": "disabled"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ldct_bench", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"batch benchmark: the command exited {done.returncode}:\n{done.stderr[-2000:]}")
    return time.monotonic() - started


def lines(run_dir: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (run_dir / "predictions.jsonl").read_text().splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--batch-seconds", type=float, default=5.0)
    args = parser.parse_args()
    task, root = bench_task(), scratch()
    for case, plans, faults in (("one batch", [], []), ("first batch expires half done, 1 line in 10 fails with 500",
                                                         ["expire"], ["ok"] * 9 + ["500"])):
        state = StubState()
        state.batch.seconds, state.batch.plans, state.batch.faults = args.batch_seconds, plans, faults
        server = make_server(state)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        name = case.split(",")[0].replace(" ", "-")
        batch_s = run(url, task, args.items, root / f"batch-{name}", root, "batch=true")
        chats_in_batch_run = len(state.requests)
        chat_s = run(url, task, args.items, root / f"chat-{name}", root)
        server.shutdown()
        batch, chat = lines(root / f"batch-{name}"), lines(root / f"chat-{name}")
        same = sum(batch[i]["score"] == chat[i]["score"] and batch[i]["example_ids"] == chat[i]["example_ids"]
                   for i in chat)
        costs = [json.loads((root / f"{kind}-{name}" / "results.json").read_text())["cost_usd"]
                 for kind in ("batch", "chat")]
        paid = sum(1 for a in state.batch.answered if a["status_code"] == 200)
        statuses = ", ".join(b.status for b in state.batch.batches.values())
        scored = sum(r["score"] is not None for r in batch.values())
        print(f"{case}: {len(state.batch.batches)} batch(es) ({statuses}), "
              f"{chats_in_batch_run} chat requests, {paid} lines paid for {scored} "
              f"scored items; {same}/{len(chat)} items as the chat run; ${costs[0]:.4f} vs ${costs[1]:.4f} "
              f"(ratio {costs[0] / costs[1]:.3f}); wall {batch_s:.1f} s (batch) vs {chat_s:.1f} s (chat)", flush=True)
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}; scratch {root}")


if __name__ == "__main__":
    main()
