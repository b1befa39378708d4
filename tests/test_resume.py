"""Never lose a paid answer: kill -9, Ctrl-C and reruns continue from the journal."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import invoke, read_jsonl
from scipy import stats

KEY = {"STUB_API_KEY": "sk-resume-test"}


def _args(stub, run_dir, *extra):
    return [*stub.model_args(), "strategy=zero_shot", "limit=20", "model.concurrency=4",
            f"hydra.run.dir={run_dir}", *extra]


def _start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "ldct_bench", *args], cwd=cwd, env={**os.environ, **KEY},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_lines(path, count, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    raise AssertionError("journal did not grow")


def _check_metrics(run_dir):
    records = read_jsonl(run_dir / "predictions.jsonl")
    results = json.loads((run_dir / "results.json").read_text())
    y = [r["target"] for r in records]
    p = [r["score"] for r in records]
    assert results["metrics"]["plcc"] == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-4)
    return records, results


def test_kill_9_then_same_command_finishes_with_each_item_once(stub, tmp_path, monkeypatch, capsys):
    stub.state.latency_s = 0.3
    run_dir = tmp_path / "run"
    proc = _start(_args(stub, run_dir), tmp_path)
    _wait_for_lines(run_dir / "predictions.jsonl", 5, proc)
    proc.kill()  # SIGKILL: no cleanup at all
    proc.wait()
    paid_before = len(stub.requests)
    with open(run_dir / "predictions.jsonl", "a") as journal:  # a line cut mid-write
        journal.write('{"id": "test019.tiff", "targ')
    for key, value in KEY.items():
        monkeypatch.setenv(key, value)
    result = invoke(_args(stub, run_dir), capsys)
    assert result.code == 0, result.err
    records, results = _check_metrics(run_dir)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == 20 and results["n_scored"] == 20
    # at most the answers in flight at the kill (concurrency 4) are paid twice
    assert len(stub.requests) <= 20 + 4
    assert len(stub.requests) - paid_before <= 20 - 5 + 4

    uninterrupted = tmp_path / "clean"
    assert invoke(_args(stub, uninterrupted, "cache.mode=off"), capsys).code == 0
    clean = json.loads((uninterrupted / "results.json").read_text())
    assert clean["metrics"] == results["metrics"]


def test_ctrl_c_stops_cleanly_and_prints_the_resume_command(stub, tmp_path, monkeypatch, capsys):
    stub.state.latency_s = 0.3
    run_dir = tmp_path / "run"
    proc = _start(_args(stub, run_dir, "model.concurrency=2"), tmp_path)
    _wait_for_lines(run_dir / "predictions.jsonl", 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"resume={run_dir}" in err and "Traceback" not in err and "error:" not in err
    assert "ldct-bench: interrupted; finished items are saved in" in err
    done = read_jsonl(run_dir / "predictions.jsonl")
    assert 3 <= len(done) < 20 and len(done) == len(stub.requests)  # the requests in flight were waited for
    assert not (run_dir / ".lock").exists()
    for key, value in KEY.items():
        monkeypatch.setenv(key, value)
    sent = len(stub.requests)
    result = invoke([f"resume={run_dir}"], capsys)
    assert result.code == 0, result.err
    records, _ = _check_metrics(run_dir)
    assert len(records) == 20 and len({r["id"] for r in records}) == 20
    assert len(stub.requests) - sent == 20 - len(done)  # nothing asked twice


def test_a_run_dir_refuses_a_different_configuration(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    run_dir = tmp_path / "run"
    assert invoke(_args(stub, run_dir, "limit=2"), capsys).code == 0
    result = invoke([*stub.model_args(), "strategy=few_shot", "shots=2", "limit=2", f"hydra.run.dir={run_dir}"],
                    capsys)
    assert result.code == 2 and "different configuration" in result.err
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 2


def test_a_larger_limit_continues_the_same_run(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    run_dir = tmp_path / "run"
    assert invoke(_args(stub, run_dir, "limit=3"), capsys).code == 0
    assert invoke(_args(stub, run_dir, "limit=6"), capsys).code == 0
    assert len(stub.requests) == 6
    assert json.loads((run_dir / "results.json").read_text())["n"] == 6


def test_multirun_resumes_job_by_job(stub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STUB_API_KEY", "k")
    sweep = tmp_path / "sweep"
    argv = ["-m", *stub.model_args(), "strategy=few_shot", "shots=0,1", "limit=3", f"hydra.sweep.dir={sweep}"]
    assert invoke(argv, capsys).code == 0
    first = len(stub.requests)
    assert first == 6
    assert invoke(argv, capsys).code == 0
    assert len(stub.requests) == first  # both jobs complete in their journals: nothing asked again
    assert len(list(sweep.rglob("results.json"))) == 2
