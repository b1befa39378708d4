"""predictions.jsonl: appended line by line, a crash-cut line repaired on read."""

import json

from ldct_bench.run.journal import Journal


def test_append_then_read_back(tmp_path):
    journal = Journal(tmp_path / "predictions.jsonl")
    journal.append({"id": "a", "score": 1.0})
    journal.append({"id": "b", "score": None, "error": "HTTP 400"})
    journal.close()
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]
    assert Journal(tmp_path / "predictions.jsonl").read()["b"]["error"] == "HTTP 400"


def test_partial_last_line_is_dropped_and_appends_stay_valid(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"id": "a", "score": 1.0}\n{"id": "b", "sco')
    journal = Journal(path)
    assert list(journal.read()) == ["a"]
    journal.append({"id": "b", "score": 2.0})
    journal.close()
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_missing_journal_reads_empty(tmp_path):
    assert Journal(tmp_path / "none.jsonl").read() == {}
