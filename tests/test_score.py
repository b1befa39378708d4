"""`ldct-bench score`: predictions made elsewhere become a normal run dir that the leaderboard and W&B show."""

import json
from pathlib import Path

import pytest
from conftest import read_jsonl
from releases import write_small_release
from scipy import stats
from wandb_offline import offline_runs

from ldct_bench.cli import main as cli_main
from ldct_bench.data.release import prepare
from ldct_bench.report.leaderboard import build

SCORES = [2.0, 2.3, 2.6, 2.9, 3.2, 1.1, 0.4, 3.9, 1.7, 2.2]
# The paper authors' own file, byte for byte (CRLF, no final newline): itu-biai/lmms-ldct-iqa,
# "AI Prediction File Examples/O3 Scores EF.txt" (CC BY-NC 4.0). Its title line, then eleven predictions.
PAPER_EF_O3 = Path(__file__).parent / "data" / "paper_ef_o3.txt"
PAPER_SCORES = [2.7, 2.2, 0.6, 3.0, 3.0, 3.1, 2.4, 3.7, 1.8, 2.8, 1.7]


def score(argv, capsys):
    """Run the command in-process; (exit code, stdout, stderr)."""
    try:
        cli_main(["score", *argv])
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def paper_lines(ids, scores):
    """The paper's released format, braces and trailing commas included."""
    return "{\n" + "".join(f'"{i}": {s}, Good,\n' for i, s in zip(ids, scores)) + "}\n"


@pytest.fixture(scope="module")
def test_ids(data_store):
    from hydra import compose, initialize_config_dir

    from ldct_bench.cards.registry import register
    from ldct_bench.data.task import load_task
    from ldct_bench.paths import resource_dir

    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        card = compose(config_name="config", overrides=["task=demo"]).task
    return [item.id for item in load_task(card, data_store).items("test")]


def test_paper_format_with_ten_ids_is_a_run_dir_with_its_coverage_on_the_board(test_ids, tmp_path, capsys):
    ten = [i.replace(".tiff", ".tif").upper() if n % 2 else i.replace(".tiff", ".tif")  # .tif and case differ
           for n, i in enumerate(test_ids[:10])]
    path = tmp_path / "o3_predictions.txt"
    path.write_text(paper_lines(ten, SCORES))
    out = tmp_path / "runs" / "paper-o3"
    code, stdout, err = score([str(path), "task=demo", "logger=wandb", "--name", "paper-o3", "--out", str(out)],
                              capsys)
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    n = len(test_ids)
    assert (results["n"], results["n_scored"], results["coverage"]) == (n, 10, round(10 / n, 6))
    assert (results["model"], results["strategy"], results["shots"], results["selection"]) == \
        ("paper-o3", "external", None, None)
    assert results["failures"] == {"missing": n - 10}
    lines = read_jsonl(out / "predictions.jsonl")
    assert [line["id"] for line in lines] == test_ids  # the task's own ids, every one of them
    assert [line["score"] for line in lines[:10]] == SCORES and all(line["score"] is None for line in lines[10:])
    assert lines[0]["category"] == "Good"
    assert (out / "scatter.png").stat().st_size > 1000 and (out / "distribution.png").stat().st_size > 1000
    assert f"scored 10/{n}" in stdout and "predictions made elsewhere" in stdout

    (row,) = build([tmp_path / "runs"])
    assert (row.model, row.strategy, row.coverage, row.low_coverage) == ("paper-o3", "external", results["coverage"],
                                                                        True)
    (run,) = offline_runs(tmp_path / "wandb")  # conftest's WANDB_DIR
    assert run.name == "paper-o3-external" and len(run.table("items")["data"]) == n


def test_csv_and_json_give_the_same_predictions_as_the_paper_format(test_ids, tmp_path, capsys):
    ids = test_ids[:10]
    files = {"a.txt": paper_lines(ids, SCORES),
             "b.csv": "id,score\n" + "".join(f"{i},{s}\n" for i, s in zip(ids, SCORES)),
             "c.csv": "".join(f"images/{i},{s}\n" for i, s in zip(ids, SCORES)),  # no header, a folder in the id
             "d.json": json.dumps(dict(zip(ids, SCORES)))}
    scored = {}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        code, _, err = score([str(tmp_path / name), "task=demo", "--name", "x", "--out", str(tmp_path / name[0])],
                             capsys)
        assert code == 0, err
        scored[name] = [line["score"] for line in read_jsonl(tmp_path / name[0] / "predictions.jsonl")]
    assert all(values == scored["a.txt"] for values in scored.values()) and scored["a.txt"][:10] == SCORES


def test_unmatched_and_duplicated_ids_are_listed_in_one_line_and_nothing_is_written(test_ids, tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text(f"{test_ids[0]},1\nnot-an-image.tif,2\n{test_ids[1].upper()},3\n{test_ids[1]},3.5\n")
    code, _, err = score([str(path), "task=demo", "--name", "x", "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "1 id not in the test split of task demo: not-an-image.tif" in err
    assert f"1 test image given more than once: {test_ids[1]} (line 3, line 4)" in err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def paper_task(tmp_path_factory):
    """A prepared release whose test split is test000.tif ... test010.tif: the ids of the paper's files."""
    root = tmp_path_factory.mktemp("paper-ids")
    train, test = write_small_release(root / "raw", ["0000.tif", "0001.tif"], [f"test{i:03d}.tif" for i in range(11)])
    return prepare(train, test, root / "dataset")


def score_on(paper_task, path, out, capsys, name="paper-ef-o3"):
    return score([str(path), "task=ldct_iqa", f"task.path={paper_task}", "--name", name, "--out", str(out)], capsys)


def test_the_papers_published_file_is_scored_as_it_is(paper_task, tmp_path, capsys):
    code, stdout, err = score_on(paper_task, PAPER_EF_O3, tmp_path / "run", capsys)
    assert code == 0, err
    assert err.strip().splitlines() == [
        f"ldct-bench: note: {PAPER_EF_O3}: skipped line 1 'EF-O3 Results' before the first prediction"]
    lines = read_jsonl(tmp_path / "run" / "predictions.jsonl")
    assert [line["id"] for line in lines] == [f"test{i:03d}.tif" for i in range(11)]
    assert [line["score"] for line in lines] == PAPER_SCORES
    assert lines[8]["category"] == "Fair"  # as the authors wrote it, although 1.8 is Poor by the floor rule
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    targets = [line["target"] for line in lines]
    assert (results["n_scored"], results["coverage"], results.get("metrics_undefined")) == (11, 1.0, None)
    assert results["metrics"]["plcc"] == pytest.approx(stats.pearsonr(targets, PAPER_SCORES)[0], abs=1e-6)
    assert results["metrics"]["krocc"] == pytest.approx(stats.kendalltau(targets, PAPER_SCORES)[0], abs=1e-6)
    assert "scored 11/11" in stdout and "n/a:" not in stdout


@pytest.mark.parametrize("lines, reason", [
    (['"test000.tif": 2.7, Good', '"test001.tif": 2.2, Fair'], "metrics need at least 3 scored items; 2 were scored"),
    ([f'"test{i:03d}.tif": 3.1, Good' for i in range(5)],
     "all predictions are equal (3.1): correlations are undefined"),
])
def test_metrics_that_cannot_be_computed_say_why(paper_task, tmp_path, capsys, lines, reason):
    path = tmp_path / "p.txt"
    path.write_text("O3-34 API Scores Few Shots Testing\n" + "\n".join(lines) + "\n")
    code, stdout, err = score_on(paper_task, path, tmp_path / "run", capsys)
    assert code == 0, err
    assert f"n/a: {reason}" in stdout.splitlines()
    assert json.loads((tmp_path / "run" / "results.json").read_text())["metrics_undefined"] == reason


@pytest.mark.parametrize("text, message", [
    ("", "holds no predictions"),
    ('"test000.tif": 2.7, Good\nthis is not a prediction\n', "line 2 is not"),
    ('Title\n"test000.tif": 2.7, Good\nbroken\n"test001.tif": 2.2\nalso broken\n', "lines 3, 5 are not"),
    ('"test000.tif" 2.7, Good\n"test001.tif": 2.2, Fair\n', "line 1 is not"),  # an image named: not a title
    ("id,score\ntest000.tiff,high\n", "not finite numbers (line 2: 'high')"),
    ("name,value\ntest000.tiff,2\n", "must name an `id` and a `score` column"),
    ('["test000.tiff", 2]', "must be one object mapping each id to its score"),
])
def test_unreadable_files_fail_in_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "p.txt"
    path.write_text(text)
    code, _, err = score([str(path), "task=demo", "--name", "x", "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
