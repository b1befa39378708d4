"""A run survives its replies and its disk: no reply crashes it, a trickling body times out, one run owns a
run dir, a full disk loses no paid answer, and a start that fails leaves nothing behind."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import invoke, one_error, read_jsonl

from ldct_bench.run.rundir import RunDir


def _run(stub, run_dir, capsys, *extra):
    return invoke([*stub.model_args(), "strategy=zero_shot", f"hydra.run.dir={run_dir}", *extra], capsys)


@pytest.fixture(autouse=True)
def keyed(monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")


def test_a_list_score_as_fourth_of_eight_replies_fails_that_item_only(stub, tmp_path, capsys):
    def answer(body):
        with stub.state.lock:
            index = len(stub.requests)
        return '{"score": [3], "category": "Good"}' if index == 4 else '{"score": 2.5, "category": "Fair"}'

    stub.state.answer = answer
    result = _run(stub, tmp_path / "run", capsys, "limit=8", "model.concurrency=4", "model.reasks=0")
    assert result.code == 0, result.err
    assert len(stub.requests) == 8
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    assert len(records) == 8 and len({r["id"] for r in records}) == 8
    [failed] = [r for r in records if r["score"] is None]
    assert failed["error"].startswith("unparseable answer") and "[3]" in failed["raw"]
    assert all(r["read_from"] == "json" for r in records if r["score"] is not None)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["n_scored"] == 7 and results["read_from"] == {"json": 7}


def test_a_reader_that_raises_costs_one_item_not_the_run(stub, tmp_path, capsys, monkeypatch):
    import ldct_bench.reading.scoring as scoring

    real = scoring.parse_answer

    def buggy(text, **kwargs):
        if "2.2" in text:
            raise KeyError("a bug in the reader")
        return real(text, **kwargs)

    monkeypatch.setattr(scoring, "parse_answer", buggy)
    replies = iter(['{"score": 2.2}', '{"score": 1.0}', '{"score": 3.0}'] * 3)
    stub.state.answer = lambda body: next(replies)
    result = _run(stub, tmp_path / "run", capsys, "limit=3", "model.concurrency=1", "model.reasks=0")
    assert result.code == 0, result.err
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    assert len(records) == 3
    [failed] = [r for r in records if r["score"] is None]
    assert failed["error"].startswith("reader error (KeyError")


def test_a_trickling_body_times_out_is_retried_then_fails_and_the_run_completes(stub, tmp_path, capsys):
    stub.state.faults = ["trickle", "trickle", "ok", "ok"]
    stub.state.trickle_s = 2.0
    result = _run(stub, tmp_path / "run", capsys, "limit=3", "model.concurrency=1", "model.timeout_s=2",
                  "model.max_retries=1")
    assert result.code == 0, result.err
    records = {r["id"]: r for r in read_jsonl(tmp_path / "run" / "predictions.jsonl")}
    assert len(records) == 3
    failed = [r for r in records.values() if r["score"] is None]
    assert len(failed) == 1 and "timed out after 2 s; gave up after 2 attempts" in failed[0]["error"]


def test_a_second_run_into_a_locked_run_dir_stops_at_once_naming_the_holder(stub, tmp_path, capsys):
    run_dir = tmp_path / "run"
    holder = RunDir(run_dir)
    holder.lock()
    try:
        result = _run(stub, run_dir, capsys, "limit=3")
        assert (run_dir / ".lock").exists()  # the holder's dir is left alone
    finally:
        holder.unlock()
    assert result.code == 2 and len(stub.requests) == 0
    assert one_error(result.err) and f"in use by process {os.getpid()}" in result.err
    assert _run(stub, run_dir, capsys, "limit=3").code == 0  # free again once released
    assert not (run_dir / ".lock").exists()  # a finished run leaves no lock file


def test_a_lock_left_by_a_killed_process_is_taken_over(stub, tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = ("import sys, time; from ldct_bench.run.rundir import RunDir; RunDir(sys.argv[1]).lock(); "
            "print('locked', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    assert "in use by process" in _run(stub, run_dir, capsys, "limit=2").err
    child.kill()
    child.wait()
    result = _run(stub, run_dir, capsys, "limit=2")
    assert result.code == 0, result.err
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 2


def test_two_identical_runs_started_together_pay_once(stub, tmp_path):
    stub.state.latency_s = 0.5
    run_dir = tmp_path / "run"
    env = {**os.environ, "STUB_API_KEY": "k"}
    command = [sys.executable, "-m", "ldct_bench", *stub.model_args(), "strategy=zero_shot", "limit=6",
               "cache.mode=off", "model.concurrency=1", "model.reasks=0", f"hydra.run.dir={run_dir}"]
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not stub.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    first_out, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err[-2000:]
    assert second.returncode == 2 and f"in use by process {first.pid}" in second.stderr
    assert len(stub.requests) == 6 and len(read_jsonl(run_dir / "predictions.jsonl")) == 6


def test_a_full_disk_stops_sending_keeps_every_paid_answer_and_resume_folds_them_in(stub, tmp_path, capsys,
                                                                                   full_journal_disk):
    full_journal_disk.after(3)
    stub.state.latency_s = 0.05
    run_dir = tmp_path / "run"
    result = _run(stub, run_dir, capsys, "limit=12", "model.concurrency=2", "cache.mode=off", "model.reasks=0")
    assert result.code == 4
    assert one_error(result.err) and "No space left on device" in result.err and "resume=" in result.err
    assert "Traceback" not in result.err
    sent = len(stub.requests)
    assert 3 < sent < 12  # it stopped sending new requests
    journaled = read_jsonl(run_dir / "predictions.jsonl")
    assert len(journaled) == 3
    [rescue] = list((tmp_path / "rescued").glob("*predictions.jsonl"))
    assert len(read_jsonl(rescue)) == sent - 3  # every paid answer is somewhere

    full_journal_disk.free()
    result = invoke([f"resume={run_dir}"], capsys)
    assert result.code == 0, result.err
    records = read_jsonl(run_dir / "predictions.jsonl")
    assert len(records) == 12 and len({r["id"] for r in records}) == 12
    assert len(stub.requests) == 12  # the rescued answers were not paid for again
    assert not rescue.exists()


def test_a_failed_start_leaves_no_run_dir_and_never_blocks_the_corrected_command(stub, tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "outputs" / "run"
    monkeypatch.delenv("STUB_API_KEY")
    result = _run(stub, run_dir, capsys, "limit=2")
    assert result.code == 2 and "STUB_API_KEY" in result.err
    assert not run_dir.exists() and not (tmp_path / "outputs").exists()
    monkeypatch.setenv("STUB_API_KEY", "k")
    bad = _run(stub, run_dir, capsys, "limit=2", "model.base_url=http://127.0.0.1:9/v1")  # nothing listens there
    assert bad.code == 2 and not run_dir.exists()
    (run_dir / ".hydra").mkdir(parents=True)  # a dir left by an older version, with another config and no answers
    (run_dir / "run.json").write_text(json.dumps({"config_digest": "0123", "overrides": []}))
    result = _run(stub, run_dir, capsys, "limit=2")
    assert result.code == 0, result.err
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 2


def test_a_reply_with_a_lone_surrogate_is_kept_and_a_rerun_reads_it(stub, tmp_path, capsys):
    """JSON may carry an escaped lone surrogate, which has no UTF-8 form: the journal must still take it."""
    stub.state.answer = lambda body: '{"score": 2.5, "category": "Fair", "explanation": "noisy \\ud83d here"}'
    for run in ("a", "b"):  # the second run reads the answer back from the cache
        result = _run(stub, tmp_path / run, capsys, "limit=2")
        assert result.code == 0, result.err
        records = read_jsonl(tmp_path / run / "predictions.jsonl")
        assert [r["score"] for r in records] == [2.5, 2.5] and "\ud83d" in records[0]["explanation"]
    assert len(stub.requests) == 2


def test_a_disk_full_from_the_first_line_keeps_the_run_dir_for_its_resume(stub, tmp_path, capsys, full_journal_disk):
    full_journal_disk.after(0)
    run_dir = tmp_path / "run"
    result = _run(stub, run_dir, capsys, "limit=4", "cache.mode=off", "model.reasks=0", "model.concurrency=1")
    assert result.code == 4 and one_error(result.err)
    assert (run_dir / "run.json").exists()  # the printed resume command needs it

    again = invoke([f"resume={run_dir}"], capsys)  # the disk is still full: one line, exit 4, nothing lost
    assert again.code == 4 and one_error(again.err) and "rescued" in again.err

    full_journal_disk.free()
    done = invoke([f"resume={run_dir}"], capsys)
    assert done.code == 0, done.err
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 4
    assert len(stub.requests) == 4  # nothing paid twice
