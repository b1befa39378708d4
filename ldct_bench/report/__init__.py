"""Reporters: what a finished run hands its results to besides results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig


def log_run(cfg: DictConfig, run_dir: Path, results: dict[str, Any]) -> None:
    """Send a finished run to the configured logger (none writes nothing beyond the run dir)."""
    if cfg.logger.name == "none":
        return None
    raise NotImplementedError(f"logger {cfg.logger.name} lands with the reporting issue")
