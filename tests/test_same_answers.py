"""The run stage's layout changed (issue 21) and no answer moved: predictions and metrics of fixed stand-in
runs equal what the code answered before the move.

`tests/data/golden_before_house.json` was recorded from commit 998f09d (the modules moved, nothing else) with
the same commands against the local server, which scores the pixels of the last image it is shown.
"""

import json
from pathlib import Path

import pytest
from conftest import invoke, read_jsonl

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_before_house.json").read_text())
STUB_RUNS = {
    "zero_shot_noise": ["strategy=zero_shot", "metadata=noise", "limit=10"],
    "few_shot_k4_stratified": ["strategy=few_shot", "shots=4", "strategy.selection=stratified", "limit=10"],
    "few_shot_k2_sliding_window": ["strategy=few_shot", "shots=2", "strategy.selection=sliding_window", "limit=8"],
    "error_feedback_per_item": ["strategy=error_feedback", "shots=2", "strategy.calibration=per_item", "limit=5"],
    "repeats_3_temperature": ["strategy=zero_shot", "repeats=3", "model.temperature=0.7", "limit=6",
                              "model.concurrency=1"],  # the stand-in draws by arrival order
    "expected_levels": ["strategy=zero_shot", "scoring=expected", "model.logprobs=true", "limit=6"],
}


def summary(run_dir: Path) -> dict:
    """What must not move: every item's score, category, examples, samples and level probabilities; the metrics."""
    items = {r["id"]: {key: r.get(key) for key in ("score", "category", "example_ids", "scores", "level_probabilities")}
             for r in read_jsonl(run_dir / "predictions.jsonl")}
    calibration = run_dir / "calibration.jsonl"
    results = json.loads((run_dir / "results.json").read_text())
    return {"items": items, "metrics": results["metrics"],
            "calibration": {r["id"]: r["score"] for r in read_jsonl(calibration)} if calibration.exists() else None}


@pytest.mark.parametrize("name", sorted(STUB_RUNS))
def test_stand_in_runs_answer_as_before_the_move(name, stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    result = invoke([*stub.model_args(), "model.concurrency=4", *STUB_RUNS[name], f"hydra.run.dir={tmp_path / 'run'}"],
                    capsys)
    assert result.code == 0, result.err
    assert_close(summary(tmp_path / "run"), GOLDEN[name])


def test_the_baseline_answers_as_before_the_move(tmp_path, capsys):
    """Its scores and metrics are as before; its lines no longer list examples it never showed (issue 22)."""
    result = invoke([f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 0, result.err
    got = summary(tmp_path / "run")
    assert all(item.pop("example_ids") == [] for item in got["items"].values())
    want = json.loads(json.dumps(GOLDEN["noise_baseline"]))
    assert all(len(item.pop("example_ids")) == 10 for item in want["items"].values())
    assert_close(got, want)


def assert_close(got, want, where: str = "") -> None:
    """Equal in shape and value; numbers to 1e-9 (they went through JSON)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for key in want:
            assert_close(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for index, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{where}[{index}]")
    elif isinstance(want, float) and isinstance(got, (int, float)):
        assert got == pytest.approx(want, abs=1e-9), where
    else:
        assert got == want, where
