"""End to end: the default offline demo run, its journal and results, and a multirun."""

import json

import pytest
from conftest import invoke, read_jsonl, run_cli
from scipy import stats


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("demo") / "run"
    result = run_cli([f"hydra.run.dir={run_dir}"], cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    return run_dir, result


def test_prints_metrics_and_run_dir(demo_run):
    run_dir, result = demo_run
    for name in ("PLCC", "SROCC", "KROCC", "OVERALL"):
        assert name in result.stdout
    assert str(run_dir) in result.stdout


def test_results_match_a_scipy_recomputation_from_the_journal(demo_run):
    run_dir, _ = demo_run
    records = read_jsonl(run_dir / "predictions.jsonl")
    results = json.loads((run_dir / "results.json").read_text())
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == results["n"] == 30
    scored = [r for r in records if r["score"] is not None]
    y, p = [r["target"] for r in scored], [r["score"] for r in scored]
    assert results["metrics"]["plcc"] == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-4)
    assert results["metrics"]["srocc"] == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-4)
    assert results["metrics"]["krocc"] == pytest.approx(stats.kendalltau(y, p)[0], abs=1e-4)
    overall = sum(abs(results["metrics"][k]) for k in ("plcc", "srocc", "krocc"))
    assert results["metrics"]["overall"] == pytest.approx(overall, abs=1e-4)
    assert results["coverage"] == 1.0 and results["n_scored"] == 30
    for name in ("plcc", "srocc", "krocc", "overall"):
        lo, hi = results["ci"][name]
        assert lo <= results["metrics"][name] <= hi


def test_journal_lines_carry_the_fields(demo_run):
    run_dir, _ = demo_run
    for record in read_jsonl(run_dir / "predictions.jsonl"):
        assert {"id", "target", "score", "category", "explanation", "error"} <= set(record)
        assert 0 <= record["score"] <= 4


def test_baseline_beats_chance_on_the_demo(demo_run):
    results = json.loads((demo_run[0] / "results.json").read_text())
    assert results["metrics"]["overall"] > 1.5


def test_hydra_config_is_saved(demo_run):
    assert (demo_run[0] / ".hydra" / "config.yaml").exists()


def test_a_sweep_over_settings_the_baseline_ignores_is_one_run_said_once(tmp_path, capsys):
    """The noise baseline reads pixels and shows no prompt: shots and metadata cannot change its answers."""
    sweep = tmp_path / "sweep"
    result = invoke(["-m", "shots=0,5", "metadata=none,noise", f"hydra.sweep.dir={sweep}"], capsys)
    assert result.code == 0, result.err[-2000:]
    [results_file] = sorted(sweep.rglob("results.json"))
    assert results_file.parent == sweep / "demo" / "noise-baseline" / "baseline"
    notes = [line for line in result.err.splitlines() if "are the same run" in line]
    assert len(notes) == 1 and "#1, #2, #3" in notes[0] and "metadata, shots" in notes[0]
    assert len([line for line in result.err.splitlines() if "change nothing here" in line]) == 1
    results = json.loads(results_file.read_text())
    assert (results["strategy"], results["shots"], results["selection"], results["requests_this_run"]) == \
        ("baseline", None, None, 0)
    lines = [json.loads(line) for line in (results_file.parent / "predictions.jsonl").read_text().splitlines()]
    assert all(line["example_ids"] == [] and line["read_from"] == "pixels" for line in lines)
    with open(sweep / "leaderboard.csv") as handle:
        assert len(handle.read().splitlines()) == 2  # the header and one row
