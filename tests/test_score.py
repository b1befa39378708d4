"""`ldct-bench score`: predictions made elsewhere become a normal run dir that the leaderboard and W&B show."""

import json

import pytest

from conftest import read_jsonl
from ldct_bench.cli import main as cli_main
from ldct_bench.report.leaderboard import build
from wandb_offline import offline_runs

SCORES = [2.0, 2.3, 2.6, 2.9, 3.2, 1.1, 0.4, 3.9, 1.7, 2.2]


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

    from ldct_bench.data.task import load_task
    from ldct_bench.paths import resource_dir
    from ldct_bench.cards.registry import register

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


@pytest.mark.parametrize("text, message", [
    ("", "holds no predictions"),
    ('"test000.tif": 2.7, Good\nthis is not a prediction\n', "lines 2 are not"),
    ("id,score\ntest000.tiff,high\n", "not finite numbers (line 2: 'high')"),
    ("name,value\ntest000.tiff,2\n", "must name an `id` and a `score` column"),
    ('["test000.tiff", 2]', "must be one object mapping each id to its score"),
])
def test_unreadable_files_fail_in_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "p.txt"
    path.write_text(text)
    code, _, err = score([str(path), "task=demo", "--name", "x", "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
