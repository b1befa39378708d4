"""batch=true (issue 19): the same requests through an OpenAI-style Batch API (the local server's), the same
journal, cache and results, half the price, and batches that survive the process that sent them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import Stub, invoke, read_jsonl

PRICES = ["model.price_input_per_mtok=2", "model.price_output_per_mtok=8"]


@pytest.fixture(autouse=True)
def keyed(monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "k")


def batch_args(stub, run_dir, *extra: str) -> list[str]:
    return [*stub.model_args(), "strategy=few_shot", "shots=2", "limit=12", "batch=true", "batch_poll_s=0.1",
            *PRICES, f"hydra.run.dir={run_dir}", *extra]


def chat_requests(stub) -> list[dict]:
    return [r for r in stub.requests if "messages" in r["body"]]


def lines_of(stub, batch_id: str) -> list[str]:
    return [a["custom_id"] for a in stub.state.batch.answered if a["batch_id"] == batch_id]


def test_a_batch_run_answers_as_a_chat_run_at_half_the_price_and_a_rerun_sends_nothing(stub, tmp_path, capsys):
    stub.state.batch.seconds = 0.5
    result = invoke(batch_args(stub, tmp_path / "batch"), capsys)
    assert result.code == 0, result.err[-2000:]
    assert chat_requests(stub) == [] and len(stub.state.batch.batches) == 1  # one batch, no chat request
    [batch] = stub.state.batch.batches.values()
    assert batch.completion_window == "24h" and batch.endpoint == "/v1/chat/completions"
    assert len(batch.requests) == 12 and {r["method"] for r in batch.requests} == {"POST"}
    assert "in_progress" in result.err and "completed" in result.err  # the progress lines
    results = json.loads((tmp_path / "batch" / "results.json").read_text())
    assert results["batch"]["batches"] == [batch.id] and results["batch"]["price_per_mtok"] == {"input": 1.0,
                                                                                                "output": 4.0}
    assert json.loads((tmp_path / "batch" / "batches.json").read_text())["batches"][0]["id"] == batch.id

    chat = invoke([*batch_args(stub, tmp_path / "chat", "batch=false", "cache.mode=off")], capsys)
    assert chat.code == 0, chat.err[-2000:]
    assert len(chat_requests(stub)) == 12
    by_batch = {r["id"]: r for r in read_jsonl(tmp_path / "batch" / "predictions.jsonl")}
    by_chat = {r["id"]: r for r in read_jsonl(tmp_path / "chat" / "predictions.jsonl")}
    for key in ("score", "category", "example_ids", "usage"):
        assert {i: r[key] for i, r in by_batch.items()} == {i: r[key] for i, r in by_chat.items()}, key
    chat_results = json.loads((tmp_path / "chat" / "results.json").read_text())
    assert results["metrics"] == chat_results["metrics"]
    assert results["cost_usd"] == pytest.approx(chat_results["cost_usd"] / 2, rel=1e-6)

    again = invoke(batch_args(stub, tmp_path / "batch"), capsys)  # a finished batch run, rerun: nothing is sent
    assert again.code == 0 and len(stub.state.batch.batches) == 1 and len(chat_requests(stub)) == 12
    fresh = invoke(batch_args(stub, tmp_path / "fresh"), capsys)  # a new run dir: the shared cache answers
    assert fresh.code == 0 and len(stub.state.batch.batches) == 1


def test_an_expiring_batch_with_failing_lines_sends_the_rest_again_and_pays_each_line_once(stub, tmp_path, capsys):
    stub.state.batch.seconds = 0.6
    stub.state.batch.plans = ["expire"]  # the first batch expires half done
    stub.state.batch.faults = ["ok", "ok", "ok", "500"]
    result = invoke(batch_args(stub, tmp_path / "run", "cache.mode=off"), capsys)
    assert result.code == 0, result.err[-2000:]
    batches = list(stub.state.batch.batches.values())
    assert [b.status for b in batches][0] == "expired" and len(batches) >= 2
    records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    assert len(records) == 12 and all(r["score"] is not None for r in records)
    paid = [a for a in stub.state.batch.answered if a["status_code"] == 200]
    assert len(paid) == 12 and len({a["custom_id"] for a in paid}) == 12  # paid lines = scored items
    assert chat_requests(stub) == []
    assert "round 2" in result.err


def test_lines_the_vendor_refuses_fail_their_items_with_its_message(stub, tmp_path, capsys):
    stub.state.batch.seconds = 0.3
    stub.state.batch.faults = ["ok", "400"]
    result = invoke(batch_args(stub, tmp_path / "run", "cache.mode=off", "limit=4"), capsys)
    assert result.code == 0, result.err[-2000:]
    records = {r["id"]: r for r in read_jsonl(tmp_path / "run" / "predictions.jsonl")}
    failed = [r for r in records.values() if r["score"] is None]
    assert len(failed) == 2 and all(r["error"].startswith("HTTP 400: ") for r in failed)
    assert len(stub.state.batch.batches) == 1  # a refused line is not sent again


def test_error_feedback_sends_calibration_then_test_items_as_separate_batches(stub, tmp_path, capsys):
    stub.state.batch.seconds = 0.3
    result = invoke([*stub.model_args(), "strategy=error_feedback", "shots=2", "limit=4", "batch=true",
                     "batch_poll_s=0.1", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 0, result.err[-2000:]
    first, second = stub.state.batch.batches.values()
    assert all(cid.startswith("calibration|") for cid in lines_of(stub, first.id))
    assert all(cid.startswith("scoring|") for cid in lines_of(stub, second.id)) and len(second.requests) == 4
    assert first.times.get("completed_at", 0) <= second.created  # the test items wait for their examples' scores
    assert chat_requests(stub) == []
    assert len(read_jsonl(tmp_path / "run" / "calibration.jsonl")) == len(first.requests)


def test_repeats_send_each_sample_as_its_own_line(stub, tmp_path, capsys):
    stub.state.batch.seconds = 0.3
    result = invoke(batch_args(stub, tmp_path / "run", "limit=3", "repeats=2", "model.temperature=0.5"), capsys)
    assert result.code == 0, result.err[-2000:]
    [batch] = stub.state.batch.batches.values()
    assert sorted(r["custom_id"].rsplit("|", 1)[1] for r in batch.requests) == ["0", "0", "0", "1", "1", "1"]
    assert all(len(r["scores"]) == 2 for r in read_jsonl(tmp_path / "run" / "predictions.jsonl"))


def test_a_batch_the_vendor_refuses_stops_in_one_line_quoting_its_errors(stub, tmp_path, capsys):
    stub.state.batch.plans = ["invalid"]
    result = invoke(batch_args(stub, tmp_path / "run", "limit=3"), capsys)
    assert result.code == 2
    line = next(line for line in result.err.splitlines() if line.startswith("ldct-bench: error"))
    assert "the vendor refused batch" in line and "line " in line and chat_requests(stub) == []


@pytest.mark.parametrize("card, why", [("claude-sonnet-5-5", "takes no OpenAI-style batches"),
                                       ("grok-4.7", "takes no OpenAI-style batches")])
def test_a_card_without_batches_stops_before_any_request(card, why, tmp_path, capsys, monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "XAI_API_KEY"):
        monkeypatch.setenv(name, "sk-test-0000000000000000")
    result = invoke([f"model={card}", "batch=true", "limit=2", f"hydra.run.dir={tmp_path / 'run'}"], capsys)
    assert result.code == 2 and why in result.err and "cards that can: " in result.err and "gpt-6-luna" in result.err
    assert not (tmp_path / "run").exists()


def test_kill_9_while_a_batch_runs_then_the_same_command_collects_it_without_a_second_batch(tmp_path):
    server = Stub()
    server.state.batch.seconds = 4.0
    try:
        command = [sys.executable, "-m", "ldct_bench", *batch_args(server, tmp_path / "run", "cache.mode=off")]
        env = {**os.environ, "STUB_API_KEY": "k"}
        first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not any(b.polls for b in server.state.batch.batches.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "run" / "batches.json").exists()  # recorded before it is first polled
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr[-2000:]
        assert len(server.state.batch.batches) == 1 and chat_requests(server) == []
        records = read_jsonl(tmp_path / "run" / "predictions.jsonl")
        assert len(records) == 12 and all(r["score"] is not None for r in records)
        assert len([a for a in server.state.batch.answered if a["status_code"] == 200]) == 12
    finally:
        server.close()


def test_estimate_shows_the_batch_price_beside_the_standard_one(capsys):
    from ldct_bench.cli import main

    main(["estimate", "+experiment=current_models", "model=gpt-6.2-astra", "--json", "--sample", "1"])
    [standard] = json.loads(capsys.readouterr().out)
    main(["estimate", "+experiment=current_models", "model=gpt-6.2-astra", "batch=true", "--json", "--sample", "1"])
    [batch] = json.loads(capsys.readouterr().out)
    assert batch["cost_usd_batch"] == pytest.approx(standard["cost_usd"] / 2, rel=1e-3)
    main(["estimate", "+experiment=current_models", "model=gpt-6.2-astra", "batch=true", "--sample", "1"])
    text = capsys.readouterr().out
    assert f"~${standard['cost_usd']:.2f}" in text and f"batch: ~${standard['cost_usd'] / 2:.2f}" in text
