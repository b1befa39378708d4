"""The finished runs a page shows: results, journal records, calibration answers and the task card, read
from run dirs (or every run under a sweep dir) without writing to them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ldct_bench.cards.registry import card_files, load_card
from ldct_bench.errors import UserError
from ldct_bench.report.runs import find_run_dirs, read_calibration, read_predictions
from ldct_bench.run.records import Prediction
from ldct_bench.run.results import RESULTS, Results, read_results
from ldct_bench.run.rundir import PREDICTIONS
from ldct_bench.stats.diagnostics import diagnostics

CONFIG = Path(".hydra") / "config.yaml"


@dataclass
class ViewRun:
    """One run as the page needs it; `label` (A, B, ...) names it in a page of several runs."""

    dir: Path
    label: str
    results: Results
    records: list[Prediction]
    calibration: dict[str, Prediction]  # error feedback's earlier answers by item id
    card: DictConfig | None  # the task card the run composed: where its images come from
    diagnostics: dict[str, Any]

    @cached_property
    def by_id(self) -> dict[str, Prediction]:
        return {record.id: record for record in self.records}


def _card(run_dir: Path, task: str) -> DictConfig | None:
    """The task card the run composed; a run dir without its config (`ldct-bench score` writes none) gets the
    card of its task's name. None only costs the images: the page says so."""
    try:
        return OmegaConf.load(run_dir / CONFIG).task
    except Exception:  # noqa: BLE001 - a missing or unreadable config: fall back to the card by name
        pass
    card = card_files("task").get(task)
    try:
        return load_card("task", card) if card else None
    except UserError:
        return None


def run_dirs(paths: list[Path]) -> list[Path]:
    """Each path as a run dir, or the runs under it (a sweep dir), in the order given, each once."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise UserError(f"no such folder: {path}; give a run dir or a sweep dir")
        if (path / PREDICTIONS).exists() and read_results(path) is None:
            raise UserError(f"{path} holds no {RESULTS} (the run has not finished); finish it with "
                            f"`python -m ldct_bench resume={path}`, then view it")
        inside = find_run_dirs([path])
        if not inside:
            raise UserError(f"no finished ldct-bench run in {path}; give a run dir (it holds {RESULTS}) "
                            "or a sweep dir holding several")
        found += [run for run in inside if run not in found]
    return found


def _label(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"R{index + 1}"


def load_runs(paths: list[Path]) -> list[ViewRun]:
    """Every run under `paths`; a results.json with diagnostics is used as is, older ones get them computed."""
    runs = []
    for index, run_dir in enumerate(run_dirs(paths)):
        results = read_results(run_dir)
        if results is None:  # it read when the run was found: the run is being redone
            raise UserError(f"{run_dir / RESULTS} can no longer be read; view the run when it has finished")
        records = read_predictions(run_dir)
        calibration = {record.id: record for record in read_calibration(run_dir)}
        runs.append(ViewRun(run_dir, _label(index), results, records, calibration, _card(run_dir, results.task),
                            results.diagnostics or diagnostics(records)))
    return runs
