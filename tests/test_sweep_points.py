"""Sweeps as the main use (issue 18): every point its own run, named by what can change its answers, all points
at once with one budget per endpoint, a failing point alone, Ctrl-C and the same command to resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Stub, invoke, read_jsonl


@pytest.fixture
def cards(tmp_path, monkeypatch, stub):
    """A user's own card folder: `good` and `other` on the local server, `keyless` needing a key nobody set."""
    folder = tmp_path / "cards" / "models"
    folder.mkdir(parents=True)
    for name, key in (("good", "STUB_API_KEY"), ("other", "STUB_API_KEY"), ("keyless", "NO_SUCH_KEY_FOR_LDCT")):
        (folder / f"{name}.yaml").write_text(f"backend: openai_compatible\nbase_url: {stub.url}\nmodel_id: m-{name}\n"
                                             f"api_key_env: {key}\nconcurrency: 2\n")
    monkeypatch.setenv("LDCT_BENCH_CARDS", str(tmp_path / "cards"))
    monkeypatch.setenv("STUB_API_KEY", "k")
    monkeypatch.delenv("NO_SUCH_KEY_FOR_LDCT", raising=False)
    return folder


def results_of(sweep: Path) -> dict[str, dict]:
    return {str(path.parent.relative_to(sweep)): json.loads(path.read_text()) for path in sweep.rglob("results.json")}


def board_rows(sweep: Path) -> list[dict]:
    with open(sweep / "leaderboard.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_points_differing_in_a_card_field_are_two_runs_and_two_rows(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    sweep = tmp_path / "sweep"
    result = invoke(["-m", *stub.model_args(), "model.model_id=a,b", "strategy=zero_shot", "limit=3",
                     f"hydra.sweep.dir={sweep}"], capsys)
    assert result.code == 0, result.err[-2000:]
    runs = results_of(sweep)
    assert len(runs) == 2  # before: the second point stopped the sweep ("holds answers of a different configuration")
    assert {r["identity"]["changed"]["model.model_id"] for r in runs.values()} == {"a", "b"}
    assert {r["model"] for r in runs.values()} == {"openai-compatible"}
    rows = board_rows(sweep)
    assert len(rows) == 2 and sorted(row["source"] for row in rows) == sorted(str(sweep / d) for d in runs)
    assert sorted(body["model"] for body in (r["body"] for r in stub.requests)) == ["a"] * 3 + ["b"] * 3


def test_repeats_split_runs_and_rows(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    sweep = tmp_path / "sweep"
    result = invoke(["-m", *stub.model_args(), "repeats=1,3", "model.temperature=0.5", "strategy=zero_shot",
                     "limit=2", f"hydra.sweep.dir={sweep}"], capsys)
    assert result.code == 0, result.err[-2000:]
    names = sorted(Path(d).name for d in results_of(sweep))  # the temperature set here adds the same digest to both
    assert [name.rsplit("-", 1)[0] for name in names] == ["zero_shot-k0-none-s0", "zero_shot-k0-none-s0-r3"]
    assert len(board_rows(sweep)) == 2 and len(stub.requests) == 2 + 6


def test_a_sweep_over_concurrency_is_one_run_and_says_so_once(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    sweep = tmp_path / "sweep"
    result = invoke(["-m", *stub.model_args(), "model.concurrency=1,2", "model.timeout_s=60,90", "strategy=zero_shot",
                     "limit=3", f"hydra.sweep.dir={sweep}"], capsys)
    assert result.code == 0, result.err[-2000:]
    assert len(results_of(sweep)) == 1 and len(stub.requests) == 3
    notes = [line for line in result.err.splitlines() if "are the same run" in line]
    assert len(notes) == 1 and "#1, #2, #3 are the same run as #0" in notes[0]
    assert "model.concurrency, model.timeout_s cannot change an answer" in notes[0]


def test_points_that_differ_in_limit_are_not_merged_silently(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    result = invoke(["-m", *stub.model_args(), "limit=2,3", "strategy=zero_shot", f"hydra.sweep.dir={tmp_path}"],
                    capsys)
    assert result.code == 2 and "differ in limit (2 and 3)" in result.err and not stub.requests


def test_a_point_without_its_key_does_not_stop_the_others(cards, stub, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    result = invoke(["-m", "model=good,keyless,other", "strategy=zero_shot", "limit=3", f"hydra.sweep.dir={sweep}"],
                    capsys)
    assert result.code == 2
    assert "1 of 3 points cannot run" in result.err and "NO_SUCH_KEY_FOR_LDCT is not set" in result.err
    assert "1 of 3 points did not finish: #1 (not started)" in result.err.splitlines()[-1]
    table = result.out[result.out.index("#  point"):].splitlines()
    keyless = next(line for line in table if "model=keyless" in line)
    assert "not started" in keyless and "NO_SUCH_KEY_FOR_LDCT" in keyless
    assert sum("done" in line for line in table) == 2
    assert sorted(Path(d).parts[1] for d in results_of(sweep)) == ["good", "other"]
    assert not (sweep / "demo" / "keyless").exists()  # a point that never started leaves nothing behind
    assert len(stub.requests) == 6 and len(board_rows(sweep)) == 2


def test_points_on_one_endpoint_share_its_concurrency(cards, stub, tmp_path, capsys):
    """`good` and `other` reach the same server with the same key: 2 at once between them, not 2 each."""
    stub.state.latency_s = 0.15
    result = invoke(["-m", "model=good,other", "strategy=zero_shot", "limit=8", f"hydra.sweep.dir={tmp_path}"],
                    capsys)
    assert result.code == 0, result.err[-2000:]
    assert len(stub.requests) == 16 and stub.state.max_in_flight == 2
    assert "sharing endpoints" in result.err


def test_each_point_answers_as_it_would_alone(stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")
    sweep = tmp_path / "sweep"
    args = [*stub.model_args(), "strategy=few_shot", "limit=5"]
    result = invoke(["-m", *args, "shots=0,2", "strategy.selection=random,stratified", f"hydra.sweep.dir={sweep}"],
                    capsys)
    assert result.code == 0, result.err[-2000:]
    swept = sorted(path.parent for path in sweep.rglob("results.json"))
    assert len(swept) == 3  # shots=0 shows no examples, so its two selections are one run
    for run_dir in swept:
        alone = tmp_path / "alone" / run_dir.name
        overrides = json.loads((run_dir / "run.json").read_text())["overrides"]
        single = invoke([*overrides, "cache.mode=off", f"hydra.run.dir={alone}"], capsys)
        assert single.code == 0, single.err[-2000:]
        def keyed(folder: Path) -> dict:
            return {r["id"]: (r["score"], r["example_ids"]) for r in read_jsonl(folder / "predictions.jsonl")}
        assert keyed(run_dir) == keyed(alone)
        assert json.loads((run_dir / "results.json").read_text())["metrics"] == \
            json.loads((alone / "results.json").read_text())["metrics"]


def test_ctrl_c_stops_every_point_and_the_same_command_resumes_them_paying_nothing_twice(tmp_path):
    server = Stub()
    server.state.latency_s = 0.25
    try:
        env = {**os.environ, "STUB_API_KEY": "k"}
        command = [sys.executable, "-m", "ldct_bench", "-m", *server.model_args(), "model.model_id=a,b",
                   "strategy=zero_shot", "limit=10", "model.concurrency=1", "cache.mode=off",
                   f"hydra.sweep.dir={tmp_path / 'sweep'}"]
        first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        deadline = time.monotonic() + 60
        while len(server.requests) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=60)
        assert first.returncode == 130, err[-2000:]
        assert "interrupted" in err and "error:" not in err and "Resume all of them with the same command" in err
        paid = len(server.requests)
        journaled = sum(len(read_jsonl(p)) for p in (tmp_path / "sweep").rglob("predictions.jsonl"))
        assert 6 <= journaled <= paid < 20
        again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr[-2000:]
        ids = [(r["body"]["model"], json.dumps(r["body"]["messages"][-1])) for r in server.requests]
        assert len(server.requests) == 20 + (paid - journaled) and journaled == paid  # nothing answered twice
        assert len(set(ids)) == 20
    finally:
        server.close()
