"""predictions.jsonl: one JSON line per finished item, appended and flushed; the run's source of truth."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable


class Journal:
    """Append-only record of finished items; reading it repairs a line cut by a crash."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._handle = None

    def read(self) -> dict[str, dict[str, Any]]:
        """Finished items by id (the last record of an id wins); drops a trailing partial line."""
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):  # killed mid-line: cut the fragment so appends stay valid
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
        records: dict[str, dict[str, Any]] = {}
        for line in complete.decode("utf-8").splitlines():
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                records[record["id"]] = record
        return records

    def append(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
