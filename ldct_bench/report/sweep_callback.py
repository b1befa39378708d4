"""Hydra callback: when a multirun ends, write that sweep's leaderboard into the sweep dir.

The sweep dir (default `outputs`) may also hold runs of earlier sweeps, so the leaderboard covers only
run dirs whose results.json appeared or changed during this sweep, compared by file stamps rather than
clocks (cluster nodes' clocks may differ). At the start it also names a W&B group that every job of the
sweep shares; launchers pass the environment on to their workers (joblib processes, SLURM jobs).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ldct_bench.report.wandb_env import SWEEP_GROUP_ENV
from ldct_bench.run.results import RESULTS

OWN_LAUNCHER = "ConcurrentLauncher"  # ldct-bench's launcher (ldct_bench/sweep/launcher.py)


def _stamps(folder: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in folder.rglob(RESULTS)} if folder.is_dir() else {}


class SweepLeaderboard(Callback):
    """Registered in conf/config.yaml under hydra.callbacks."""

    def __init__(self) -> None:
        self._before: dict[Path, int] = {}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        self._before = _stamps(sweep_dir)
        os.environ[SWEEP_GROUP_ENV] = f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{sweep_dir.resolve().name}"

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(SWEEP_GROUP_ENV, None)
        if str(OmegaConf.select(config, "hydra.launcher._target_", default="")).endswith(OWN_LAUNCHER):
            return  # it wrote the sweep's leaderboard itself, with the points it ran
        sweep_dir = Path(config.hydra.sweep.dir)
        changed = [path.parent for path, stamp in _stamps(sweep_dir).items() if self._before.get(path) != stamp]
        write_sweep_leaderboard(sorted(changed), sweep_dir)


def write_sweep_leaderboard(run_dirs: list[Path], sweep_dir: Path) -> None:
    """leaderboard.md/.csv/.html of these runs in the sweep dir, one row per setting, and the line naming them."""
    from ldct_bench.report.board_files import write_all
    from ldct_bench.report.leaderboard import newest_per_key, ranked, rows_from_run_dirs

    rows = rows_from_run_dirs(run_dirs)
    if rows:
        paths = write_all(ranked(newest_per_key(rows)), sweep_dir)
        print(f"sweep leaderboard ({len(rows)} runs): {paths['md']} and {paths['html']}")
