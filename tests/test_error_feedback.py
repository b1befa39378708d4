"""Error feedback: calibration images scored once (zero-shot, same metadata), then m of them shown per test item."""

import json
import re

import pytest
from conftest import invoke, read_jsonl, run_cli
from protocol_helpers import SMALL, assert_metrics_match, data_url, images, strategy, task_args, text

from ldct_bench.errors import UserError
from ldct_bench.strategies import calibration_pool

FEEDBACK = re.compile(r"True score: (\d\.\d)\. Your earlier score: (\d\.\d)\. Absolute error: (\d\.\d\d)\.")
NOISE = re.compile(r"Estimated noise level: \d\.\d{3}\.")


def run(stub, task_dir, run_dir, *args):
    result = run_cli([*stub.model_args(), *task_args(task_dir, SMALL), "strategy=error_feedback", "metadata=noise",
                      *args, f"hydra.run.dir={run_dir}"], cwd=run_dir.parent, env={"STUB_API_KEY": "k"})
    assert result.returncode == 0, result.stderr[-2000:]


def test_sixty_requests_at_most_and_every_test_item_scored(stub, task_dir, task, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    run(stub, task_dir, run_dir)
    assert len(stub.requests) <= 20 + 40
    calibration = {r["id"]: r for r in read_jsonl(run_dir / "calibration.jsonl")}
    assert len(calibration) == 40 and all(r["score"] is not None for r in calibration.values())
    records = assert_metrics_match(run_dir)
    assert len(records) == 20 and all(r["score"] is not None for r in records)

    train = {item.id: item for item in task.items("train")}
    test_urls = {data_url(task, item.id): item.id for item in task.items("test")}
    train_urls = {data_url(task, item_id): item_id for item_id in train}
    asked = [r["body"]["messages"] for r in stub.requests]
    calibration_chats = [m for m in asked if len(m) == 2]
    # each calibration image asked once, zero-shot: instructions + one image with its noise level
    assert sorted(train_urls[images(m[1])[0]] for m in calibration_chats) == sorted(calibration)
    assert all(NOISE.search(text(m[1])) and "Calibration" not in m[0]["content"] for m in calibration_chats)

    for record in records:
        [messages] = [m for m in asked if len(m) > 2 and test_urls.get(images(m[-1])[0]) == record["id"]]
        assert len(record["example_ids"]) == 5 and set(record["example_ids"]) <= set(calibration)
        query_region = next(i for i in task.items("test") if i.id == record["id"]).meta["region"]
        assert all(train[i].meta["region"] == query_region for i in record["example_ids"])
        shown = [m for m in messages[1:-1] if m["role"] == "user"]
        assert [train_urls[images(m)[0]] for m in shown] == record["example_ids"]
        for message, example_id in zip(shown, record["example_ids"]):
            true, earlier, error = FEEDBACK.search(text(message)).groups()
            assert float(true) == round(train[example_id].target, 1)
            assert float(earlier) == round(calibration[example_id]["score"], 1)
            assert float(error) == pytest.approx(abs(train[example_id].target - calibration[example_id]["score"]),
                                                 abs=0.006)
            assert NOISE.search(text(message))
        assert NOISE.search(text(messages[-1]))

    # Another run over the same calibration pool (other m) asks only for the test items: calibration is cached.
    before = len(stub.requests)
    monkeypatch.setenv("STUB_API_KEY", "k")
    again = invoke(stub.model_args() + task_args(task_dir, SMALL) + [
        "strategy=error_feedback", "metadata=noise", "shots=3", "limit=5", f"hydra.run.dir={tmp_path / 'run-m3'}"],
        capsys)
    assert again.code == 0, again.err[-2000:]
    assert len(stub.requests) - before == 5
    assert len(read_jsonl(tmp_path / "run-m3" / "calibration.jsonl")) == 40


def test_default_is_five_examples_from_a_pool_of_forty(task):
    s = strategy(task, "error_feedback")
    assert s.shots == 5 and len(s.calibration_items()) == 40
    assert len({item.id for item in s.calibration_items()}) == 40


def test_more_examples_than_the_pool_fails_before_any_request(task):
    with pytest.raises(UserError, match="calibration_pool"):
        strategy(task, "error_feedback", 5, calibration_pool=4)
    with pytest.raises(UserError, match="1 <= shots"):
        strategy(task, "error_feedback", 0)


def test_too_few_scored_calibration_images_is_a_clear_error(task):
    s = strategy(task, "error_feedback", 5, calibration_pool=6)
    scored = {item.id: 2.0 for item in s.calibration_items()[:4]}
    with pytest.raises(UserError, match="scored 4 of 6"):
        s.request(task.items("test")[0], 0, scored)


def test_calibration_pool_covers_every_region_evenly(task):
    pool = calibration_pool(task.items("train"), 9, seed=0)
    regions = [item.meta["region"] for item in pool]
    assert sorted(regions.count(r) for r in set(regions)) == [3, 3, 3]
    assert calibration_pool(task.items("train"), 9, seed=0) == pool != calibration_pool(task.items("train"), 9, seed=1)
    assert json.dumps([i.id for i in pool]) == json.dumps(sorted(i.id for i in pool))
