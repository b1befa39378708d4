"""The Hydra launcher behind `python -m ldct_bench -m ...`: all points at once, in this process.

Hydra's basic launcher runs points one after another, and the joblib one gives each process a card's whole
concurrency, so two points on one vendor double its load. This one sets up every point the way Hydra does
(run dir, `.hydra/`), then hands them to `ldct_bench.sweep.running`, where they run concurrently with one
budget per endpoint. Hydra imports launcher modules when it starts, so this one imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class ConcurrentLauncher(Launcher):
    """Registered as `hydra/launcher=concurrent` (the default) through hydra_plugins/ldct_bench_launcher."""

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.settings = settings
        self.config: DictConfig | None = None
        self.context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.context = config, hydra_context  # the task function is ours to replace: points run async

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from ldct_bench.sweep.running import run_sweep

        assert self.config is not None and self.context is not None, "Hydra calls setup() first"
        return run_sweep(self.context, self.config, job_overrides, initial_job_idx)
