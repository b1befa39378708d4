"""Helpers for the prompting-protocol tests: a 40 + 20 synthetic task, reading chats, checking metrics."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, read_jsonl
from omegaconf import OmegaConf
from scipy import stats

from ldct_bench.config.schema import MetadataConfig, StrategyConfig, TaskCard
from ldct_bench.data import demo
from ldct_bench.data.release import prepare
from ldct_bench.data.task import Task, load_task
from ldct_bench.metadata.noise import noise_column
from ldct_bench.strategies import FewShot, make_strategy

# Runs against the stub send 128-px PNGs: what they check is the chat, and small images keep them fast.
SMALL = 128


def build_task(root: Path, n_train: int = 40, n_test: int = 20, regions: bool = True) -> Path:
    """A prepared synthetic task (challenge layout -> `prepare`), with the generator's regions as a column."""
    train, test = demo.write_release(root / "raw", n_train=n_train, n_test=n_test)
    extra = {"region": json.loads((root / "raw" / "regions.json").read_text())} if regions else None
    return prepare(train, test, root / "dataset", extra=extra)


def open_task(path: Path, store: Path, **card: Any) -> Task:
    """The prepared task as a run would load it (`task=ldct_iqa task.path=PATH`)."""
    node = OmegaConf.merge(OmegaConf.structured(TaskCard), {"name": "ldct_iqa", "source": "local",
                                                            "path": str(path), **card})
    return load_task(node, store)


def conf(group: str, name: str, schema: type, **overrides: Any):
    """A shipped conf/ option, typed by its schema, with overrides."""
    node = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.load(REPO / "conf" / group / f"{name}.yaml"))
    return OmegaConf.merge(node, overrides)


def strategy(task: Task, name: str = "few_shot", shots: int | None = None, metadata: str = "none",
             **overrides: Any) -> FewShot:
    """A strategy as a run builds it (the noise column computed first when the metadata shows it)."""
    meta = conf("metadata", metadata, MetadataConfig)
    if meta.noise:
        noise_column(task)
    return make_strategy(conf("strategy", name, StrategyConfig, **overrides), shots, meta, task, seed=0)


def task_args(path: Path, image_size: int | None = None) -> list[str]:
    """The command-line overrides that run on the prepared task (optionally with smaller images)."""
    return ["task=ldct_iqa", f"task.path={path}", *([f"task.image_size={image_size}"] if image_size else [])]


def images(message: dict[str, Any]) -> list[str]:
    """The data URLs of a chat message's images."""
    content = message["content"]
    return [] if isinstance(content, str) else [p["image_url"]["url"] for p in content if p["type"] == "image_url"]


def text(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else " ".join(p["text"] for p in content if p["type"] == "text")


def data_url(task: Task, item_id: str) -> str:
    return "data:image/png;base64," + base64.b64encode(task.png(item_id)).decode()


def assert_metrics_match(run_dir: Path) -> list[dict[str, Any]]:
    """results.json agrees with a scipy recomputation from predictions.jsonl; returns the records."""
    records = read_jsonl(run_dir / "predictions.jsonl")
    results = json.loads((run_dir / "results.json").read_text())
    scored = [r for r in records if r["score"] is not None]
    y, p = [r["target"] for r in scored], [r["score"] for r in scored]
    metrics = results["metrics"]
    assert metrics["plcc"] == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-4)
    assert metrics["srocc"] == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-4)
    assert metrics["krocc"] == pytest.approx(stats.kendalltau(y, p)[0], abs=1e-4)
    assert metrics["overall"] == pytest.approx(sum(abs(metrics[k]) for k in ("plcc", "srocc", "krocc")), abs=1e-4)
    assert results["n_scored"] == len(scored)
    return records
