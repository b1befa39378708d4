"""Reading back what an offline W&B run wrote, for tests.

wandb 0.31 no longer ships a Python reader for the run-<id>.wandb transaction log (the old
`wandb.sdk.internal.datastore` is gone), and offline runs write no wandb-summary.json. The log is a
LevelDB-style record log: a 7-byte file header (":W&B", magic, version), then 32 KiB blocks of
chunks, each with a 7-byte header (crc32, little-endian length, type 1 full / 2 first / 3 middle / 4 last);
every record is a protobuf `wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

_BLOCK = 32768
_HEADER = 7


def records(path: Path) -> Iterator[Any]:
    raw = Path(path).read_bytes()
    assert raw[:4] == b":W&B", f"{path} is not a W&B transaction log"
    position, pending = _HEADER, b""
    while position + _HEADER <= len(raw):
        left = _BLOCK - position % _BLOCK
        if left < _HEADER:  # block trailer padding
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", raw[position:position + _HEADER])
        position += _HEADER
        if position + length > len(raw):  # a chunk still being written
            return
        pending += raw[position:position + length]
        position += length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _nested(update: Any) -> str:
    return "/".join(update.nested_key) if update.nested_key else update.key


@dataclass
class OfflineRun:
    folder: Path
    name: str = ""
    group: str = ""
    tags: list[str] = field(default_factory=list)
    job_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {path in artifact: local file}
    artifact_types: dict[str, str] = field(default_factory=dict)

    def table_files(self, key: str) -> dict[str, str]:
        """Files of the run_table artifact W&B staged for a logged table (its JSON and its media)."""
        for name, files in self.artifacts.items():
            if self.artifact_types[name] == "run_table" and f"{key}.table.json" in files:
                return files
        raise KeyError(key)

    def table(self, key: str) -> dict[str, Any]:
        """A logged wandb.Table as {'columns', 'data'}."""
        return json.loads(Path(self.table_files(key)[f"{key}.table.json"]).read_text())


def _finished_records(log: Path, timeout_s: float) -> list[Any]:
    """All records once the log ends with its exit record: wandb-core may still be writing after run.finish()."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = list(records(log))
        if (found and found[-1].WhichOneof("record_type") == "exit") or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def read_run(folder: Path, timeout_s: float = 20.0) -> OfflineRun:
    """Name, group, tags, config, final summary and artifacts of one offline-run-* folder."""
    run = OfflineRun(Path(folder))
    (log,) = Path(folder).glob("run-*.wandb")
    for record in _finished_records(log, timeout_s):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.name, run.group, run.tags, run.job_type = r.display_name, r.run_group, list(r.tags), r.job_type
            run.config.update({item.key: json.loads(item.value_json) for item in r.config.update})
        elif kind == "config":
            run.config.update({_nested(item): json.loads(item.value_json) for item in record.config.update})
        elif kind == "summary":
            run.summary.update({_nested(item): json.loads(item.value_json) for item in record.summary.update})
        elif kind == "artifact":
            artifact = record.artifact
            run.artifact_types[artifact.name] = artifact.type
            run.artifacts[artifact.name] = {c.path: c.local_path for c in artifact.manifest.contents}
    return run


def offline_runs(wandb_dir: Path) -> list[OfflineRun]:
    return [read_run(folder) for folder in sorted(Path(wandb_dir).glob("wandb/offline-run-*"))]
