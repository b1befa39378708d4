"""`ldct-bench leaderboard`: runs found on disk (and W&B-shaped rows), ranked, printed and written three ways."""

import base64
import csv
import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from conftest import run_cli
from wandb_offline import offline_runs

from ldct_bench.cli import main as cli_main
from ldct_bench.report.leaderboard import Row, build, newest_per_key, ranked, row_from_wandb
from ldct_bench.report.runs import read_predictions
from ldct_bench.stats.diagnostics import diagnostics
from ldct_bench.view import page_of
from ldct_bench.view.text import signed


@pytest.fixture(scope="module")
def board(wandb_sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("board")
    result = run_cli(["leaderboard", str(wandb_sweep.sweep_dir), "--out", str(out)], cwd=out, module="ldct_bench.cli")
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def _results(run_dir):
    return json.loads((run_dir / "results.json").read_text())


def test_a_sweep_over_two_models_is_a_row_per_model_named_by_its_setting(wandb_sweep, board):
    out, result = board
    header, *lines, wrote = result.stdout.splitlines()
    assert wrote.startswith("wrote ") and len(lines) == 2
    overall_at = header.split().index("overall")
    with open(out / "leaderboard.csv", newline="") as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == ["noise-baseline", "stub"]
    baseline = rows["noise-baseline"]
    assert (baseline["strategy"], baseline["shots"], baseline["runs"]) == ("baseline", "", "1")
    assert (rows["stub"]["strategy"], rows["stub"]["shots"]) == ("few_shot/random", "2")
    for model, row in rows.items():
        run_dir = wandb_sweep.run_dir(model)
        results = _results(run_dir)
        assert row["source"] == str(run_dir) and any(line.rstrip().endswith(str(run_dir)) for line in lines)
        assert float(row["overall"]) == pytest.approx(results["metrics"]["overall"])
        assert [float(row["overall_ci_low"]), float(row["overall_ci_high"])] == results["ci"]["overall"]
        assert float(row["coverage"]) == results["coverage"] and row["published"] == "False"
    assert sorted(float(line.split()[overall_at]) for line in lines) == pytest.approx(
        sorted(_results(d)["metrics"]["overall"] for d in wandb_sweep.run_dirs), abs=1e-4)
    assert "| overall |" in (out / "leaderboard.md").read_text()


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.rows, self.scripts = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.images += [attrs["src"]] if tag == "img" and "thumb" in attrs.get("class", "") else []
        self.links += [attrs[k] for k in ("href", "src") if k in attrs and tag != "img"]
        self.rows += tag == "tr"
        self.scripts += tag == "script"


def test_html_is_self_contained_sortable_and_embeds_the_scatter_plots(board):
    page = _Page()
    page.feed((board[0] / "leaderboard.html").read_text())
    assert page.rows == 3 and page.scripts == 1 and page.links == []  # header + 2 rows; nothing fetched
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
        return Row(task, model, "few_shot", 10, "none", overall, None, None, None, name=model)

    rows = ranked(newest_per_key([row("demo", "a", 1.0), row("demo", "b", None), row("demo", "c", 2.0),
                                  row("ldct_iqa", "d", 0.5)]))
    assert [(r.task, r.model, r.rank) for r in rows] == [("demo", "c", 1), ("demo", "a", 2), ("demo", "b", 3),
                                                         ("ldct_iqa", "d", 1)]


def test_rows_from_wandb_runs_match_the_run_dirs(wandb_sweep):
    """What the logger put in W&B is enough to rebuild the leaderboard row (the --wandb-project path)."""
    for run in offline_runs(wandb_sweep.wandb_dir):
        row = row_from_wandb(run.config, run.summary, "https://wandb.example/run")
        results = _results(next(d for d in wandb_sweep.run_dirs if str(d) == run.config["benchmark"]["run_dir"]))
        assert (row.model, row.strategy, row.shots, row.metadata) == (
            results["model"], "/".join(filter(None, [results["strategy"], results["selection"]])), results["shots"],
            results["metadata"])
        assert row.name == results["identity"]["name"]
        assert row.overall == results["metrics"]["overall"] and list(row.overall_ci) == results["ci"]["overall"]
        assert (row.bias, row.slope, row.mode_share) == tuple(results["diagnostics"][k]
                                                              for k in ("bias", "slope", "mode_share"))
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


def _write_run(folder, model, scores, targets, cost=0.5):
    """A run dir of the demo task whose results follow from its predictions (None = a failed item); written as
    before results.json held diagnostics."""
    from ldct_bench.stats.metrics import correlations

    folder.mkdir(parents=True)
    records = [{"id": f"t{i:03d}", "target": t, "score": s} for i, (t, s) in enumerate(zip(targets, scores))]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    scored = [r for r in records if r["score"] is not None]
    metrics = correlations([r["target"] for r in scored], [r["score"] for r in scored])
    (folder / "results.json").write_text(json.dumps({
        "task": "demo", "model": model, "strategy": "zero_shot", "selection": None, "shots": 0, "metadata": "none",
        "metrics": {k: float(v) for k, v in metrics.items()}, "ci": {"overall": [None, None]},
        "coverage": len(scored) / len(records), "n": len(records), "cost_usd": cost}))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Four runs on the same 80 items: the best, a near twin, a clearly worse one, and a sharp one on 30% of items."""
    import numpy as np

    rng = np.random.default_rng(3)
    targets = [round(float(t), 3) for t in rng.uniform(0, 4, 80)]
    best = [t + float(e) for t, e in zip(targets, rng.normal(0, 0.3, 80))]
    root = tmp_path_factory.mktemp("graded")
    _write_run(root / "best", "best", best, targets)
    _write_run(root / "twin", "twin", [s + float(e) for s, e in zip(best, rng.normal(0, 0.02, 80))], targets)
    _write_run(root / "worse", "worse", [t + float(e) for t, e in zip(targets, rng.normal(0, 1.5, 80))], targets)
    _write_run(root / "partial", "partial", [t if i % 10 < 3 else None for i, t in enumerate(targets)], targets)
    return root


def test_rows_under_min_coverage_are_flagged_and_ranked_last(graded):
    rows = build([graded])
    assert [r.model for r in rows] == ["best", "twin", "worse", "partial"]
    assert [r.low_coverage for r in rows] == [False, False, False, True]
    assert rows[3].overall == pytest.approx(3.0)  # perfect on its items, still last: measured on 30% of them
    assert [r.model for r in build([graded], min_coverage=0.2)][0] == "partial"


def test_each_row_has_its_paired_distance_from_the_best(graded):
    rows = {r.model: r for r in build([graded])}
    assert rows["best"].best and rows["best"].delta == 0.0
    twin, worse = rows["twin"], rows["worse"]
    assert twin.tied_with_best is True and twin.delta_ci[0] <= 0.0 <= twin.delta_ci[1]
    assert worse.tied_with_best is False and worse.delta_ci[1] < 0.0
    assert worse.delta == pytest.approx(worse.overall - rows["best"].overall, abs=1e-6)  # same items: plain difference
    assert rows["partial"].delta_ci[0] is not None  # paired over the 24 items both scored


def test_the_page_marks_ties_low_coverage_and_published_rows_and_charts_cost(graded, tmp_path):
    cli_main(["leaderboard", str(graded), "--published", "--out", str(tmp_path)])
    page = (tmp_path / "leaderboard.html").read_text()
    assert page.count('<span class="tag low">') == 1
    assert page.count('<span class="tag pub">published</span>') == 13
    assert "<h2>task demo</h2>" in page and "<h2>task ldct_iqa</h2>" in page
    assert page.count("<svg") == 4 + 13  # an overall bar per row with a score
    assert "overall against cost" in page and page.count("class='chart'") == 1
    with open(tmp_path / "leaderboard.csv", newline="") as handle:
        rows = {r["model"]: r for r in csv.DictReader(handle)}
    assert rows["twin"]["tied_with_best"] == "True" and rows["partial"]["low_coverage"] == "True"
    assert page.count("≈ best</span>") == sum(r["tied_with_best"] == "True" for r in rows.values())
    assert float(rows["worse"]["delta_ci_high"]) < 0


def test_min_coverage_outside_0_1_is_one_line(graded, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["leaderboard", str(graded), "--min-coverage", "90"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--min-coverage 90.0 must be between 0 and 1" in err


def test_bias_slope_and_mode_share_are_columns_of_every_file(wandb_sweep, board, graded, tmp_path):
    """From results.json when the run wrote them (the sweep), else from the journal (the graded runs predate them)."""
    cli_main(["leaderboard", str(graded), "--out", str(tmp_path)])
    for out, expected in ((board[0], {m: _results(wandb_sweep.run_dir(m))["diagnostics"] for m in ("stub",)}),
                          (tmp_path, {d.name: diagnostics(read_predictions(d)) for d in graded.iterdir()})):
        with open(out / "leaderboard.csv", newline="") as handle:
            rows = {row["model"]: row for row in csv.DictReader(handle)}
        markdown = (out / "leaderboard.md").read_text()
        page = (out / "leaderboard.html").read_text()
        assert "| KROCC | bias | slope | mode share |" in markdown and "<th title=" in page
        for model, figures in expected.items():
            assert figures["bias"] is not None and figures["slope"] is not None
            for key in ("bias", "slope", "mode_share"):
                assert float(rows[model][key]) == pytest.approx(figures[key], abs=1e-9)
            line = next(line for line in markdown.splitlines() if f"| {model} |" in line)
            assert f"| {signed(figures['bias'], 3)} | {figures['slope']:.3f} | {figures['mode_share']:.0%} |" in line
            assert (f"<small>bias {signed(figures['bias'])}</small><small>slope {figures['slope']:.2f}</small>"
                    f"<small>mode {figures['mode_share']:.0%}</small>") in page


class _Sources(HTMLParser):
    """The source cell of each row: its link (if any), its hover text and its text, by the row's model."""

    def __init__(self):
        super().__init__()
        self.cells, self._model, self._cell, self._column = {}, None, None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self._column, self._model = 0, None
        elif tag == "td":
            self._column += 1
            self._cell = {"href": None, "title": None, "text": ""} if attrs.get("class") == "src" else None
            if self._cell is not None:
                self.cells[self._model] = self._cell
        elif tag in ("a", "span") and self._cell is not None:
            self._cell["href"] = attrs.get("href")
            self._cell["title"] = attrs.get("title")

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._column == 2 and self._model is None:
            self._model = data
        if self._cell is not None:
            self._cell["text"] += data


def test_the_source_links_the_view_page_or_says_how_to_make_it(graded, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(graded, runs)
    page = page_of(runs / "twin")
    page.parent.mkdir()
    page.write_text("<html>twin's items</html>")
    for out, inside in ((tmp_path / "board", False), (runs, True)):
        cli_main(["leaderboard", str(runs), "--out", str(out)])
        parsed = _Sources()
        parsed.feed((out / "leaderboard.html").read_text())
        assert sorted(parsed.cells) == ["best", "partial", "twin", "worse"]
        twin = parsed.cells["twin"]
        assert not twin["href"].startswith(("/", "file:")) and (out / twin["href"]).resolve() == page.resolve()
        assert str((runs / "twin").resolve()) in twin["title"]  # the full path on hover
        assert twin["text"] == ("twin" if inside else "…/" + "/".join((runs / "twin").resolve().parts[-3:]))
        for model in ("best", "partial", "worse"):
            cell = parsed.cells[model]
            assert cell["href"] is None
            assert f"ldct-bench view {(runs / model).resolve()}" in cell["title"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium on PATH")
def test_the_page_fits_a_1400_px_window(graded, tmp_path):
    """Laid out by headless Chromium: no sideways scroll, and every header and source shown whole."""
    cli_main(["leaderboard", str(graded), "--published", "--out", str(tmp_path)])
    probe = """<script>addEventListener('load', () => {
      const over = el => el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight + 1;
      document.body.dataset.fit = JSON.stringify({
        wide: document.documentElement.scrollWidth > innerWidth,
        headers: Array.from(document.querySelectorAll('th')).filter(over).map(th => th.textContent),
        sources: Array.from(document.querySelectorAll('td.src > *')).filter(over).map(el => el.textContent)});
    });</script>"""
    page = tmp_path / "probe.html"
    page.write_text((tmp_path / "leaderboard.html").read_text().replace("</body>", probe + "</body>"))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--window-size=1400,1000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=60).stdout
    fit = json.loads(html.unescape(re.search(r'data-fit="([^"]*)"', dom).group(1)))
    assert fit == {"wide": False, "headers": [], "sources": []}


def test_all_runs_at_0_dollars_get_a_line_instead_of_a_cost_chart(tmp_path):
    targets = [0.5, 1.5, 2.5, 3.5, 1.0, 3.0]
    _write_run(tmp_path / "runs" / "a", "a", [0.7, 1.2, 2.9, 3.1, 1.4, 2.6], targets, cost=0.0)
    _write_run(tmp_path / "runs" / "b", "b", [1.0, 1.0, 2.0, 3.0, 1.0, 3.0], targets, cost=0.0)
    cli_main(["leaderboard", str(tmp_path / "runs"), "--out", str(tmp_path)])
    page = (tmp_path / "leaderboard.html").read_text()
    assert "task demo: all runs cost $0, so no cost chart." in page and "class='chart'" not in page
