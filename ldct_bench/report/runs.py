"""Reading finished run dirs for reports, strictly read-only (a run may still be writing its journal)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ldct_bench.errors import UserError
from ldct_bench.run.records import Prediction
from ldct_bench.run.results import RESULTS, read_results
from ldct_bench.run.rundir import CALIBRATION, PREDICTIONS


def read_predictions(run_dir: Path, name: str = PREDICTIONS) -> list[Prediction]:
    """Journal records by id order (the last line of an id wins); an unfinished last line is skipped, not cut.
    `name` reads another journal of the run dir (calibration.jsonl)."""
    path = Path(run_dir) / name
    if not path.exists():
        return []
    records: dict[str, Prediction] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            record = Prediction.from_json(data) if isinstance(data, dict) else None
        except (json.JSONDecodeError, TypeError):
            continue
        if record is not None:
            records[record.id] = record
    return [records[key] for key in sorted(records)]


def read_calibration(run_dir: Path) -> list[Prediction]:
    """Error feedback's calibration answers (none for other strategies)."""
    return read_predictions(run_dir, CALIBRATION)


def find_run_dirs(folders: Iterable[Path]) -> list[Path]:
    """Every folder under `folders` holding an ldct-bench results.json (W&B's own folders are skipped)."""
    found: set[Path] = set()
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise UserError(f"no such folder: {folder}; give folders that hold run dirs (default: outputs)")
        for path in folder.rglob(RESULTS):
            if "wandb" not in path.relative_to(folder).parts and read_results(path.parent) is not None:
                found.add(path.parent.resolve())
    return sorted(found)
