"""Batch input files: one JSONL line per request sample, split to stay within the vendor's count and bytes."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


def custom_id(stage: str, item_id: str, sample: int) -> str:
    """The line's name, by which its answer is found again (results come in any order)."""
    return f"{stage}|{item_id}|{sample}"


def parse_custom_id(value: str) -> tuple[str, str, int]:
    """(stage, item id, sample) of a line's name."""
    stage, rest = value.split("|", 1)
    item_id, sample = rest.rsplit("|", 1)
    return stage, item_id, int(sample)


@dataclass
class InputFile:
    """One batch input file being written: a temporary file and the custom ids it holds."""

    path: Path
    ids: list[str] = field(default_factory=list)
    size: int = 0


class InputFiles:
    """Lines written to as many files as the limits need; an item's samples always share a file."""

    def __init__(self, folder: Path, max_requests: int, max_bytes: int):
        self.folder, self.max_requests, self.max_bytes = folder, max_requests, max_bytes
        self.files: list[InputFile] = []

    def add(self, lines: list[tuple[str, bytes]]) -> None:
        """Write one item's lines (custom id, line) to the current file, or to a new one when they do not fit."""
        size = sum(len(line) for _, line in lines)
        current = self.files[-1] if self.files else None
        if current is None or len(current.ids) + len(lines) > self.max_requests or current.size + size > self.max_bytes:
            handle, name = tempfile.mkstemp(prefix="batch-", suffix=".jsonl", dir=self.folder)
            os.close(handle)
            current = InputFile(Path(name))
            self.files.append(current)
        with open(current.path, "ab") as out:
            for cid, line in lines:
                out.write(line)
                current.ids.append(cid)
        current.size += size

    def remove(self) -> None:
        for file in self.files:
            file.path.unlink(missing_ok=True)
