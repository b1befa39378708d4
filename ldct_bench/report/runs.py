"""Reading finished run dirs for reports, strictly read-only (a run may still be writing its journal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..errors import UserError
from ..rundir import PREDICTIONS, RESULTS


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The run's results.json, or None when it is missing or not an ldct-bench results file."""
    try:
        results = json.loads((Path(run_dir) / RESULTS).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return results if isinstance(results, dict) and "metrics" in results and "model" in results else None


def read_predictions(run_dir: Path, name: str = PREDICTIONS) -> list[dict[str, Any]]:
    """Journal records by id order (the last line of an id wins); an unfinished last line is skipped, not cut.
    `name` reads another journal of the run dir (calibration.jsonl)."""
    path = Path(run_dir) / name
    if not path.exists():
        return []
    records: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "id" in record:
            records[record["id"]] = record
    return [records[key] for key in sorted(records)]


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
