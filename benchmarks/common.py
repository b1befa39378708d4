"""Helpers shared by the benchmark scripts: a stub server in its own process, timed CLI runs, a 300-item task."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def stub_server(latency: float = 0.0, faults: str = "") -> Iterator[str]:
    """Start `python -m ldct_bench.testing.stub_server` on a free port; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "ldct_bench.testing.stub_server", "--port", "0",
                             "--latency", str(latency), "--faults", faults],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        yield line.strip().rsplit(" ", 1)[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stub_model_args(url: str) -> list[str]:
    return ["model=openai-compatible", f"model.base_url={url}", "model.model_id=stub",
            "model.api_key_env=STUB_API_KEY"]


def timed_run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, dict]:
    """Run `python -m ldct_bench ARGS`; returns wall seconds and the run's results.json."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ldct_bench", *args], check=True, capture_output=True,
                   env={**os.environ, "STUB_API_KEY": "bench", **(env or {})})
    wall = time.perf_counter() - started
    run_dir = next(a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir="))
    return wall, json.loads((Path(run_dir) / "results.json").read_text())


def scratch() -> Path:
    """A fresh folder for one benchmark's runs and cache."""
    return Path(tempfile.mkdtemp(prefix="ldct-bench-"))


def bench_task(n_train: int = 120, n_test: int = 300) -> Path:
    """A prepared synthetic task of challenge size (300 test items), built once with the project's own
    generator and `prepare` into ~/.cache/ldct-bench/bench-task-N; later calls reuse it."""
    from ldct_bench.data import demo
    from ldct_bench.data.release import prepare

    cache = Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")))
    root = cache / "ldct-bench" / f"bench-task-{n_test}"
    dataset, stamp = root / "dataset", root / f"built-{n_train}-{n_test}-v{demo.GENERATOR_VERSION}"
    if not stamp.exists():
        print(f"building the benchmark task ({n_train} train / {n_test} test synthetic slices) in {root} ...",
              flush=True)
        raw = root / "raw"
        shutil.rmtree(raw, ignore_errors=True)
        train, test = demo.write_release(raw, n_train=n_train, n_test=n_test)
        regions = json.loads((raw / "regions.json").read_text())
        prepare(train, test, dataset, extra={"region": regions})
        shutil.rmtree(raw)  # the dataset keeps every TIFF byte for byte
        stamp.touch()
    return dataset
