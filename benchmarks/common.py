"""Helpers shared by the benchmark scripts: a stub server in its own process, timed CLI runs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def stub_server(latency: float = 0.0, faults: str = "") -> Iterator[str]:
    """Start `python -m ldct_bench.stub_server` on a free port; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "ldct_bench.stub_server", "--port", "0",
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
