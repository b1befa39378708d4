"""Request throughput of the API path against its ceiling, and client CPU per request.

300 one-image requests (distinct 512x512 PNGs) go through the runner's own loop (bounded
concurrency -> Asker -> OpenAI-compatible backend -> journal) to the stub server in its own
process with 200 ms latency. With concurrency 32 the ceiling is 32 / 0.2 s = 160 requests/s;
target >= 0.9 of it. Also printed: how many requests were in flight on average (the harness's
own share of the gap) and the time per request beyond the server's latency (CPU on both sides).

    python benchmarks/throughput.py [--items 300] [--latency 0.2] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from common import stub_model_args, stub_server
from hydra import compose, initialize_config_dir

from ldct_bench.asking import Asker
from ldct_bench.backends.base import Request
from ldct_bench.backends.openai_compat import OpenAICompatible
from ldct_bench.config import CacheMode
from ldct_bench.data.render import to_png
from ldct_bench.data.task import Item
from ldct_bench.journal import Journal
from ldct_bench.paths import resource_dir
from ldct_bench.registry import register
from ldct_bench.runner import Budget, score_items
from ldct_bench.strategies.prompt import image_part


def slices(count: int) -> list[bytes]:
    """Distinct CT-like PNGs: a disc of soft tissue with noise (the size of a real windowed slice)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[-256:256, -256:256]
    body = ((xx / 200.0) ** 2 + (yy / 160.0) ** 2 < 1).astype(np.float32) * (1040 / 1400)
    return [to_png(np.clip(body + rng.normal(0, 0.01 + 0.02 * i / count, body.shape), 0, 1).astype(np.float32))
            for i in range(count)]


async def measure(cfg, items: list[Item], pngs: dict[str, bytes], folder: Path) -> tuple[float, float, dict]:
    backend = OpenAICompatible(cfg.model)
    asker = Asker(backend, None, CacheMode.off, cfg.model.reasks)
    build = lambda item, index: Request(item, [
        {"role": "system", "content": "Rate the quality of this CT slice from 0 to 4."},
        {"role": "user", "content": [{"type": "text", "text": "Rate this slice."}, image_part(pngs[item.id])]}])
    await backend.start(None)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        records = await score_items(items, build, asker, Journal(folder / "predictions.jsonl"), cfg,
                                    Budget(None), "throughput")
        return time.perf_counter() - wall, time.process_time() - cpu, records
    finally:
        await backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    os.environ["STUB_API_KEY"] = "bench"
    pngs = {f"b{i:04d}": png for i, png in enumerate(slices(args.items))}
    items = [Item(item_id, "test", 2.0) for item_id in pngs]
    register()
    with stub_server(args.latency) as url, tempfile.TemporaryDirectory() as folder:
        with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[*stub_model_args(url),
                                                           f"model.concurrency={args.concurrency}"])
        wall, cpu, records = asyncio.run(measure(cfg, items, pngs, Path(folder)))
    ceiling = args.concurrency / args.latency
    achieved = len(records) / wall
    failed = sum(1 for r in records.values() if r["score"] is None)
    print(f"requests: {len(records)} ({failed} failed), image ~{np.mean([len(p) for p in pngs.values()]) / 1024:.0f} KiB PNG")
    print(f"wall: {wall:.2f} s; throughput {achieved:.1f} req/s vs ceiling {ceiling:.0f} req/s "
          f"(concurrency {args.concurrency} / {args.latency:g} s) = {achieved / ceiling:.2f} of the limit (target >= 0.9)")
    print(f"client CPU: {cpu:.2f} s = {1000 * cpu / len(records):.1f} ms per request")
    latencies = sorted(r["latency_s"] for r in records.values())
    print(f"requests in flight: {sum(latencies) / wall:.1f} on average of {args.concurrency}; time per request "
          f"median {np.median(latencies):.3f} s, p90 {latencies[int(0.9 * len(latencies))]:.3f} s "
          f"(server latency {args.latency:g} s; the excess is HTTP + JSON work on both sides)")


if __name__ == "__main__":
    main()
