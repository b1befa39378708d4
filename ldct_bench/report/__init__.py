"""Reporters: what a finished run hands its results to besides results.json."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from omegaconf import DictConfig

from ldct_bench.errors import UserError
from ldct_bench.run.results import Results

LOGGERS = ("none", "wandb")


def log_run(cfg: DictConfig, run_dir: Path, results: Results, *, plots_in_background: bool = False,
            group: str | None = None) -> None:
    """Write the run's plots (every run), then send it to the configured logger.

    With `plots_in_background` and no W&B run to hand them to, the plots are drawn by a detached process,
    so a finished run returns the terminal at once instead of a second or two later (matplotlib's import
    and two renders); the files appear moments after the run's table."""
    if cfg.logger.name not in LOGGERS:
        raise UserError(f"logger '{cfg.logger.name}' has no reporter; use logger={' or logger='.join(LOGGERS)}")
    to_wandb = cfg.logger.name == "wandb" and getattr(cfg.logger.mode, "value", cfg.logger.mode) != "disabled"
    if plots_in_background and not to_wandb:
        subprocess.Popen([sys.executable, "-m", "ldct_bench.report.plots", str(run_dir)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        return
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its first-use font-cache INFO line is no news
    from ldct_bench.report.plots import write_plots  # matplotlib and the journal reader load only when a run ends
    from ldct_bench.report.runs import read_predictions

    records = read_predictions(run_dir)
    figures = write_plots(run_dir, records, results)
    if to_wandb:
        from ldct_bench.report.wandb_logger import log_wandb_run  # wandb is imported only when a run is sent to it

        log_wandb_run(cfg, run_dir, results, records, figures, group)
