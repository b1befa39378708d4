"""Requests built ahead in worker threads change nothing about the answers, and each image is encoded once.

The local server scores the pixels of the last image it is shown (the query), so every item's answer can be
computed here from its own image: with requests built ahead and sent many at once, each item still gets the
answer to its own image, and the same examples as when everything goes one at a time.
"""

import json
import os
from pathlib import Path

import pytest
from conftest import invoke, read_jsonl

import ldct_bench.data.task
from ldct_bench.testing.stub_server import hashed_score

RUNS = {"few_shot_k3": ["strategy=few_shot", "shots=3", "limit=12"],
        "error_feedback_k2_noise": ["strategy=error_feedback", "shots=2", "metadata=noise", "limit=6"]}


def own_image_score(task, item_id: str) -> float:
    """What the server answers for a request whose last image is this item's."""
    image = {"type": "image_url", "image_url": {"url": task.image_url(item_id)}}
    return hashed_score({"messages": [{"role": "user", "content": [image]}]})


@pytest.mark.parametrize("name", sorted(RUNS))
def test_requests_built_ahead_and_sent_at_once_answer_as_one_at_a_time(name, stub, tmp_path, capsys, monkeypatch):
    from ldct_bench.config.compose import compose_jobs
    from ldct_bench.data.task import load_task

    monkeypatch.setenv("STUB_API_KEY", "k")
    runs = {}
    for concurrency in (8, 1):
        run_dir = tmp_path / f"c{concurrency}"
        result = invoke([*stub.model_args(), *RUNS[name], f"model.concurrency={concurrency}", "cache.mode=off",
                         f"hydra.run.dir={run_dir}"], capsys)
        assert result.code == 0, result.err
        runs[concurrency] = {r["id"]: r for r in read_jsonl(run_dir / "predictions.jsonl")}
    assert {i: (r["score"], r["category"], r["example_ids"]) for i, r in runs[8].items()} == \
        {i: (r["score"], r["category"], r["example_ids"]) for i, r in runs[1].items()}
    assert json.loads((tmp_path / "c8" / "results.json").read_text())["metrics"] == \
        json.loads((tmp_path / "c1" / "results.json").read_text())["metrics"]
    task = load_task(compose_jobs([])[0].task)
    assert {i: r["score"] for i, r in runs[8].items()} == {i: own_image_score(task, i) for i in runs[8]}


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
