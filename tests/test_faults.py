"""Transient faults are retried until answered; permanent ones are recorded, counted and summarised."""

import json

from conftest import invoke, read_jsonl


def _run(stub, tmp_path, capsys, *extra):
    return invoke([*stub.model_args(), "strategy=zero_shot", "limit=20", f"hydra.run.dir={tmp_path / 'run'}",
                   *extra], capsys)


def test_thirty_percent_faults_still_score_every_item(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    stub.state.faults = ["ok", "429", "ok", "ok", "500", "ok", "ok", "markdown", "ok", "ok"]
    stub.state.retry_after_s = 0.05
    result = _run(stub, tmp_path, capsys)
    assert result.code == 0, result.err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["n_scored"] == 20 and results["coverage"] == 1.0
    faults = [r["fault"] for r in stub.requests]
    assert faults.count("429") >= 2 and faults.count("500") >= 2 and faults.count("markdown") >= 2
    retried = [r for r in read_jsonl(tmp_path / "run" / "predictions.jsonl") if r["attempts"] > 1]
    assert retried, "some items needed more than one attempt"


def test_permanent_failures_are_recorded_with_reason_and_counted(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    stub.state.faults = ["ok", "400", "ok", "unparseable", "unparseable"]
    result = _run(stub, tmp_path, capsys, "limit=8", "model.reasks=1", "model.concurrency=1")
    assert result.code == 0, result.err
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    failed = [r for r in records if r["score"] is None]
    assert failed and all(r["error"] for r in failed)
    assert any("HTTP 400" in r["error"] for r in failed)
    unreadable = [r for r in failed if r["error"].startswith("unparseable")]
    assert unreadable and all(r["raw"] == "The image shows the abdomen." and r["reasks"] == 1 for r in unreadable)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["n_failed"] == len(failed) == sum(results["failures"].values())
    assert results["n_scored"] == 8 - len(failed)
    assert "failures" in result.out


def test_min_coverage_decides_the_exit_code(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    stub.state.faults = ["refusal"]
    result = _run(stub, tmp_path, capsys, "limit=3", "model.reasks=0", "min_coverage=0.5")
    assert result.code == 3
    assert "min_coverage" in result.err and "refusal" in result.err
    assert (tmp_path / "run" / "results.json").exists()  # the work is still written down
