"""`ldct-bench leaderboard`: runs found on disk (and W&B-shaped rows), ranked, printed and written three ways."""

import base64
import csv
import json
import os
import re
import shutil
from html.parser import HTMLParser

import pytest

from conftest import run_cli
from ldct_bench.cli import main as cli_main
from ldct_bench.report.leaderboard import Row, build, newest_per_key, ranked, row_from_wandb
from wandb_offline import offline_runs


@pytest.fixture(scope="module")
def board(wandb_sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("board")
    result = run_cli(["leaderboard", str(wandb_sweep.sweep_dir), "--out", str(out)], cwd=out, module="ldct_bench.cli")
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def _results(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def test_lists_both_runs_with_an_overall_column(wandb_sweep, board):
    out, result = board
    header, *lines = result.stdout.splitlines()[:3]
    assert "overall" in header.split()
    overall_at = header.split().index("overall")
    for run_dir in wandb_sweep.run_dirs:
        line = next(line for line in lines if line.rstrip().endswith(str(run_dir)))
        assert float(line.split()[overall_at]) == pytest.approx(_results(run_dir)["metrics"]["overall"], abs=1e-4)
    with open(out / "leaderboard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(int(r["shots"]) for r in rows) == [0, 10]
    assert {r["source"] for r in rows} == {str(d) for d in wandb_sweep.run_dirs}
    for r in rows:
        results = _results(next(d for d in wandb_sweep.run_dirs if str(d) == r["source"]))
        assert float(r["overall"]) == pytest.approx(results["metrics"]["overall"])
        assert [float(r["overall_ci_low"]), float(r["overall_ci_high"])] == results["ci"]["overall"]
        assert float(r["coverage"]) == results["coverage"] and r["published"] == "False"
    assert "| overall |" in (out / "leaderboard.md").read_text()


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.rows, self.scripts = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.images += [attrs["src"]] if tag == "img" else []
        self.links += [attrs[k] for k in ("href", "src") if k in attrs and tag != "img"]
        self.rows += tag == "tr"
        self.scripts += tag == "script"


def test_html_is_self_contained_sortable_and_embeds_the_scatter_plots(board):
    page = _Page()
    page.feed((board[0] / "leaderboard.html").read_text())
    assert page.rows == 3 and page.scripts == 1 and page.links == []  # header + 2 runs; nothing fetched
    assert len(page.images) == 2
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_published_rows_sit_beside_runs_marked_not_run_here(wandb_sweep):
    rows = build([wandb_sweep.sweep_dir], published=True)
    published = [r for r in rows if r.published]
    assert {r.overall for r in published} >= {2.7427, 2.6843, 2.4026, 2.1219, 2.2649}
    assert all(r.source.startswith("published, not run here") and r.run_dir is None for r in published)
    assert len([r for r in rows if not r.published]) == 2
    on_task = [r for r in rows if r.task == "ldct_iqa"]
    assert [r.rank for r in on_task] == list(range(1, len(on_task) + 1))
    assert on_task[0].overall == 2.7427


def test_one_row_per_setting_keeps_the_newest_and_counts_runs(wandb_sweep, tmp_path):
    older, newer = tmp_path / "a" / "run", tmp_path / "b" / "run"
    shutil.copytree(wandb_sweep.run_dirs[0], older)
    shutil.copytree(wandb_sweep.run_dirs[0], newer)
    results = _results(newer)
    results["metrics"]["overall"] = 1.234
    (newer / "results.json").write_text(json.dumps(results))
    os.utime(older / "results.json", (1e9, 1e9))
    (row,) = build([tmp_path])
    assert row.runs == 2 and row.overall == 1.234 and row.run_dir == newer


def test_ranking_is_by_overall_within_a_task_with_missing_scores_last():
    def row(task, model, overall):
        return Row(task, model, "few_shot", 10, "none", overall, None, None, None)

    rows = ranked(newest_per_key([row("demo", "a", 1.0), row("demo", "b", None), row("demo", "c", 2.0),
                                  row("ldct_iqa", "d", 0.5)]))
    assert [(r.task, r.model, r.rank) for r in rows] == [("demo", "c", 1), ("demo", "a", 2), ("demo", "b", 3),
                                                         ("ldct_iqa", "d", 1)]


def test_rows_from_wandb_runs_match_the_run_dirs(wandb_sweep):
    """What the logger put in W&B is enough to rebuild the leaderboard row (the --wandb-project path)."""
    for run in offline_runs(wandb_sweep.wandb_dir):
        row = row_from_wandb(run.config, run.summary, "https://wandb.example/run")
        results = _results(next(d for d in wandb_sweep.run_dirs if str(d) == run.config["benchmark"]["run_dir"]))
        assert (row.model, row.strategy, row.shots, row.metadata) == (results["model"], results["strategy"],
                                                                     results["shots"], results["metadata"])
        assert row.overall == results["metrics"]["overall"] and list(row.overall_ci) == results["ci"]["overall"]
    assert row_from_wandb({"lr": 1}, {"loss": 0.1}, "u") is None  # someone else's run in the project


def test_leaderboard_to_wandb_writes_a_table(wandb_sweep, tmp_path, capsys):
    cli_main(["leaderboard", str(wandb_sweep.sweep_dir), "--out", str(tmp_path), "--wandb"])
    (run,) = offline_runs(tmp_path / "wandb")  # offline_env points WANDB_DIR here
    table = run.table("leaderboard")
    assert run.job_type == "leaderboard" and len(table["data"]) == 2 and "overall" in table["columns"]
    assert re.search(r"^W&B offline run written to .*; upload it with: wandb sync ", capsys.readouterr().out, re.M)


@pytest.mark.parametrize("args, message", [
    (["leaderboard", "no-such-folder"], "no such folder: no-such-folder"),
    (["leaderboard", "--wandb-project", "me/proj"], "needs a key and the network"),
    (["leaderboard", "."], "no runs found in ."),
])
def test_bad_input_fails_in_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
