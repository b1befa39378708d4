"""batches.json in the run dir: every batch this run created, written before it is first polled, so a run
stopped by Ctrl-C or kill -9 attaches to its batches again instead of sending their requests twice."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ldct_bench.paths import write_atomic

LEDGER = "batches.json"


@dataclass
class BatchRecord:
    id: str
    stage: str  # calibration | scoring
    input_file_id: str
    custom_ids: list[str]
    round: int = 1  # 1 for first sends; a line sent again (expired, a server error) goes in a later round
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    status: str = "validating"
    collected: bool = False  # its answers are journaled (or waiting for the item's other samples)


class Ledger:
    """The run's batches; every change is written whole at once."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LEDGER
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            data = {"batches": []}
        self.batches = [BatchRecord(**entry) for entry in data.get("batches", [])]

    def add(self, record: BatchRecord) -> None:
        self.batches.append(record)
        self.save()

    def save(self) -> None:
        write_atomic(self.path, json.dumps({"batches": [asdict(b) for b in self.batches]}, indent=1))

    def open(self, stage: str) -> list[BatchRecord]:
        """The stage's batches whose answers are not collected yet (in flight, or finished while we were away)."""
        return [b for b in self.batches if b.stage == stage and not b.collected]

    def ids(self) -> list[str]:
        return [b.id for b in self.batches]
