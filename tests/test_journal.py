"""predictions.jsonl: appended line by line, a crash-cut line repaired on read, and `finish` saying where every
line went."""

import errno
import json

from ldct_bench.run.journal import Journal
from ldct_bench.run.records import Prediction


def test_append_then_read_back(tmp_path):
    journal = Journal(tmp_path / "predictions.jsonl")
    journal.append(Prediction(id="a", target=2.0, score=1.0))
    journal.append(Prediction(id="b", target=3.0, error="HTTP 400"))
    assert journal.finish().unwritten == 0
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]
    back = Journal(tmp_path / "predictions.jsonl").read()
    assert back["b"].error == "HTTP 400" and back["a"] == Prediction(id="a", target=2.0, score=1.0)


def test_partial_last_line_is_dropped_and_appends_stay_valid(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"id": "a", "target": 2.0, "score": 1.0}\n{"id": "b", "sco')
    journal = Journal(path)
    assert list(journal.read()) == ["a"]
    journal.append(Prediction(id="b", target=1.0, score=2.0))
    journal.finish()
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a", "b"]


def test_missing_journal_reads_empty(tmp_path):
    assert Journal(tmp_path / "none.jsonl").read() == {}


def test_lines_the_disk_refuses_go_to_a_rescue_file_that_the_next_read_folds_in(tmp_path, full_journal_disk,
                                                                                monkeypatch):
    monkeypatch.setenv("LDCT_BENCH_RESCUE", str(tmp_path / "rescued"))
    path = tmp_path / "run" / "predictions.jsonl"
    journal = Journal(path)
    full_journal_disk.after(1)
    journal.append(Prediction(id="a", target=2.0, score=1.0))
    for name in ("b", "c"):
        try:
            journal.append(Prediction(id=name, target=2.0, score=3.0))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    finished = journal.finish()
    assert finished.unwritten == 2 and finished.rescued_to is not None
    assert finished.rescued_to.parent == tmp_path / "rescued"
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a"]
    full_journal_disk.free()
    assert sorted(Journal(path).read()) == ["a", "b", "c"] and not finished.rescued_to.exists()
