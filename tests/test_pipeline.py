"""Requests built ahead in worker threads change nothing about the results, and each image is encoded once.

`tests/data/golden_stub_runs.json` holds what the version before the pipeline (commit 4321a77, one item
at a time on the event loop) answered for two runs on the demo task against the local server; the
server scores the pixels of the last image, so the PNG encoder's settings do not move its answers.
"""

import json
import os
from pathlib import Path

import pytest

import ldct_bench.data.task

from conftest import invoke, read_jsonl

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_stub_runs.json").read_text())
RUNS = {"few_shot_k3": ["strategy=few_shot", "shots=3", "limit=12"],
        "error_feedback_k2_noise": ["strategy=error_feedback", "shots=2", "metadata=noise", "limit=6"]}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_pipelined_runs_answer_exactly_as_the_sequential_version_did(name, stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    run_dir = tmp_path / "run"
    result = invoke([*stub.model_args(), *RUNS[name], "model.concurrency=8", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err
    golden = GOLDEN[name]
    records = {r["id"]: r for r in read_jsonl(run_dir / "predictions.jsonl")}
    assert {i: {"score": r["score"], "category": r["category"], "example_ids": r["example_ids"]}
            for i, r in records.items()} == golden["items"]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["metrics"] == pytest.approx(golden["metrics"], abs=1e-9)
    if "calibration" in golden:
        assert {r["id"]: r["score"] for r in read_jsonl(run_dir / "calibration.jsonl")} == golden["calibration"]


def test_each_image_is_rendered_once_per_run_and_kept_for_the_next(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    made: list[str] = []
    rendered: list[int] = []
    real_png, real_render = ldct_bench.data.task.Task._png, ldct_bench.data.task.to_png

    def counting_png(self, item_id):
        made.append(item_id)
        return real_png(self, item_id)

    def counting_render(*args, **kwargs):
        rendered.append(1)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(ldct_bench.data.task.Task, "_png", counting_png)
    monkeypatch.setattr(ldct_bench.data.task, "to_png", counting_render)
    args = [*stub.model_args(), "strategy=few_shot", "shots=10", "strategy.selection=random", "limit=12",
            "model.concurrency=8", "task.image_size=97"]  # a size no other test renders: nothing kept from before
    result = invoke([*args, f"hydra.run.dir={tmp_path / 'a'}"], capsys)
    assert result.code == 0, result.err
    records = read_jsonl(tmp_path / "a" / "predictions.jsonl")
    shown = {r["id"] for r in records} | {e for r in records for e in r["example_ids"]}
    assert sum(len(r["example_ids"]) for r in records) + len(records) > len(shown)  # examples do repeat
    assert sorted(made) == sorted(shown) and len(rendered) == len(shown)  # once each, whatever the threads did
    kept = [p for p in Path(os.environ["LDCT_BENCH_DATA"]).glob("rendered/*/w350-l40-s97-*/*.png")]
    assert sorted(p.stem for p in kept) == sorted(shown)

    made.clear(), rendered.clear()
    result = invoke([*args, "seed=1", f"hydra.run.dir={tmp_path / 'b'}"], capsys)  # new draws, same pictures
    assert result.code == 0, result.err
    again = {r["id"] for r in read_jsonl(tmp_path / "b" / "predictions.jsonl")}
    again |= {e for r in read_jsonl(tmp_path / "b" / "predictions.jsonl") for e in r["example_ids"]}
    assert len(rendered) == len(again - shown)  # only pictures never made before are rendered
