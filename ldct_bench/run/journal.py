"""predictions.jsonl: one JSON line per finished item, appended and flushed; the run's source of truth.

A line that cannot be written (a full disk) is kept in memory and written with the next one that can be;
what is still unwritten when the run finishes goes to a rescue file on another filesystem, which the next
run into the same run dir folds back in. A paid answer is never dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ldct_bench.paths import rescue_dir
from ldct_bench.run.records import Prediction


@dataclass(frozen=True)
class Finished:
    """Where a journal's lines went when it was finished."""

    unwritten: int = 0  # lines the disk refused to the end
    rescued_to: Path | None = None  # the rescue file now holding them
    error: OSError | None = None  # why they could not be rescued either (they are lost unless cached)


class Journal:
    """Append-only record of finished items; reading it repairs a line cut by a crash."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._good = 0  # bytes of whole lines in the file
        self.pending: list[bytes] = []  # lines not yet written (the disk refused them)

    def rescue_paths(self) -> list[Path]:
        """Where unwritable lines of this journal go, first choice first: one file per journal, outside its folder."""
        name = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16] + "-" + self.path.name
        return [rescue_dir() / name, Path(tempfile.gettempdir()) / "ldct-bench-rescued" / name]

    def read(self) -> dict[str, Prediction]:
        """Finished items by id (the last line of an id wins); drops a trailing partial line and folds in the
        lines an earlier run had to put in its rescue file (OSError while the disk still refuses them)."""
        self._fold_rescued()
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):  # killed mid-line: cut the fragment so appends stay valid
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
        records: dict[str, Prediction] = {}
        for line in complete.decode("utf-8").splitlines():
            if line.strip():
                try:
                    record = Prediction.from_json(json.loads(line))
                except (json.JSONDecodeError, TypeError):
                    continue
                records[record.id] = record
        return records

    def _fold_rescued(self) -> None:
        for rescue in self.rescue_paths():
            if rescue.exists():
                self.pending.extend(line + b"\n" for line in rescue.read_bytes().splitlines() if line.strip())
                self.flush()  # raises OSError while the disk is still full; the rescue file stays
                rescue.unlink()

    def append(self, record: Prediction) -> None:
        """Write one line; OSError when the disk refuses it (the line is kept and retried with the next);
        TypeError or ValueError when the record cannot be JSON (nothing is kept)."""
        # ASCII escapes: a reply may hold a lone surrogate, which has no UTF-8 form (json reads it back the same)
        self.pending.append((json.dumps(record.to_json()) + "\n").encode("ascii"))
        self.flush()

    def flush(self) -> None:
        """Write every pending line, or none of a line: a failed write is cut back to the last whole line."""
        if not self.pending:
            return
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._good = os.fstat(self._fd).st_size
        while self.pending:
            line = self.pending[0]
            try:
                written = 0
                while written < len(line):
                    written += os.write(self._fd, line[written:])
            except OSError:
                os.ftruncate(self._fd, self._good)
                raise
            self._good += len(line)
            self.pending.pop(0)

    def finish(self) -> Finished:
        """Last try at the lines the disk refused, close, and put what is still unwritten in a rescue file."""
        try:
            self.flush()
        except OSError:
            pass
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None
        if not self.pending:
            return Finished()
        unwritten = len(self.pending)
        error: OSError | None = None
        for rescue in self.rescue_paths():
            try:
                rescue.parent.mkdir(parents=True, exist_ok=True)
                with open(rescue, "ab") as handle:
                    handle.writelines(self.pending)
            except OSError as exc:
                error = exc
                continue
            self.pending.clear()
            return Finished(unwritten, rescue)
        return Finished(unwritten, None, error)
