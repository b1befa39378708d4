"""Repeated samples (repeats=N), expected-level scoring from token log-probabilities, and the paper's
per-item error feedback, each through the real entry point against the local server."""

import json
import math

import numpy as np
import pytest
from conftest import invoke, one_error, read_jsonl
from protocol_helpers import SMALL, data_url, images, task_args

from ldct_bench.reading.answer import AnswerError
from ldct_bench.reading.scoring import level_probabilities


@pytest.fixture(autouse=True)
def keyed(monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")


def _run(stub, run_dir, capsys, *extra):
    return invoke([*stub.model_args(), "strategy=zero_shot", "limit=6", f"hydra.run.dir={run_dir}", *extra], capsys)


def test_repeats_ask_each_item_n_times_keep_every_score_and_rerun_free(stub, tmp_path, capsys):
    result = _run(stub, tmp_path / "a", capsys, "repeats=3", "model.temperature=0.7")
    assert result.code == 0, result.err
    assert len(stub.requests) == 18
    records = read_jsonl(tmp_path / "a" / "predictions.jsonl")
    assert all(len(r["scores"]) == 3 for r in records)
    assert all(r["score"] == pytest.approx(np.mean(r["scores"])) for r in records)
    assert any(len(set(r["scores"])) > 1 for r in records), "a sampling model gives different answers"
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    spreads = [np.std(r["scores"], ddof=1) for r in records]
    assert results["repeats"] == 3 and results["sample_spread"] == pytest.approx(np.mean(spreads), abs=1e-6)
    assert set(results["single_sample_metrics"]) == {"plcc", "srocc", "krocc", "overall"}

    assert _run(stub, tmp_path / "b", capsys, "repeats=3", "model.temperature=0.7").code == 0
    assert len(stub.requests) == 18  # every sample came from the cache
    assert _run(stub, tmp_path / "c", capsys, "repeats=3", "model.temperature=0.7", "seed=1").code == 0
    assert len(stub.requests) == 36  # a new seed is new samples


def test_repeats_at_temperature_zero_say_the_samples_may_agree(stub, tmp_path, capsys):
    result = _run(stub, tmp_path / "a", capsys, "repeats=2", "limit=2")
    assert result.code == 0 and "temperature 0" in result.err


def test_expected_level_equals_the_probability_weighted_level(stub, tmp_path, capsys):
    result = _run(stub, tmp_path / "run", capsys, "scoring=expected", "model.logprobs=true")
    assert result.code == 0, result.err
    assert all(r["body"]["logprobs"] is True and r["body"]["top_logprobs"] >= 5 for r in stub.requests)
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    assert len(records) == 6
    from ldct_bench.testing.stub_server import LEVEL_WIDTH, hashed_score
    by_last_image = {images(r["body"]["messages"][-1])[0]: r["body"] for r in stub.requests}
    for record in records:
        assert record["read_from"] == "logprobs" and len(record["level_probabilities"]) == 5
        probabilities = record["level_probabilities"]
        assert record["score"] == pytest.approx(sum(level * p for level, p in enumerate(probabilities)), abs=1e-6)
    # the stand-in's probabilities are known in closed form: check one item against them directly
    body = next(iter(by_last_image.values()))
    center = hashed_score(body)
    weights = [math.exp(-((level - center) / LEVEL_WIDTH) ** 2) for level in range(5)]
    expected = sum(level * w for level, w in enumerate(weights)) / sum(weights)
    assert any(abs(r["score"] - expected) < 1e-6 for r in records)
    assert all(abs(r["score"] * 10 - round(r["score"] * 10)) > 1e-3 for r in records)  # off the one-decimal grid


def test_expected_scoring_on_a_card_without_logprobs_stops_before_any_request(stub, tmp_path, capsys):
    result = _run(stub, tmp_path / "run", capsys, "scoring=expected")
    assert result.code == 2 and len(stub.requests) == 0
    assert "log-probabilities" in result.err and one_error(result.err)


def test_level_probabilities_read_the_token_that_emits_the_level():
    tokens = [{"token": "Score", "logprob": 0.0, "top_logprobs": []},
              {"token": ": 3", "logprob": math.log(0.6),
               "top_logprobs": [{"token": ": 3", "logprob": math.log(0.6)}, {"token": ": 2", "logprob": math.log(0.3)},
                                {"token": ": 10", "logprob": math.log(0.05)},
                                {"token": ":", "logprob": math.log(0.05)}]},
              {"token": ".5", "logprob": 0.0, "top_logprobs": []}]
    probabilities = level_probabilities(tokens, "Score: 3.5", len("Score: "))
    assert probabilities == pytest.approx((0, 0, 1 / 3, 2 / 3, 0))
    byte = {"token": "\ufffd", "logprob": 0.0, "top_logprobs": []}
    shifted = [byte, byte, *tokens]  # "±" sent as its two UTF-8 bytes: every later offset moves by one
    with pytest.raises(AnswerError, match="line up"):
        level_probabilities(shifted, "±Score: 3.5", len("±Score: "))


def test_per_item_error_feedback_scores_each_drawn_image_once(stub, task_dir, task, tmp_path, capsys):
    run_dir = tmp_path / "run"
    result = invoke([*stub.model_args(), *task_args(task_dir, SMALL), "strategy=error_feedback",
                     "strategy.calibration=per_item", "shots=3", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err
    records = read_jsonl(run_dir / "predictions.jsonl")
    calibration = read_jsonl(run_dir / "calibration.jsonl")
    drawn = {example for record in records for example in record["example_ids"]}
    assert len(records) == 20 and all(len(r["example_ids"]) == 3 for r in records)
    assert {r["id"] for r in calibration} == drawn
    assert len(stub.requests) == 20 + len(drawn)
    train_urls = {data_url(task, item.id): item.id for item in task.items("train")}
    calibration_asks = [train_urls[images(r["body"]["messages"][-1])[0]] for r in stub.requests
                        if len(r["body"]["messages"]) == 2]
    assert sorted(calibration_asks) == sorted(drawn)  # each drawn image asked once
    assert all(r["id"] not in r["example_ids"] for r in records)
    assert len({tuple(r["example_ids"]) for r in records}) > 1  # fresh draws per test image
