"""Plots in every run dir (logger or not), and the read-only run-dir reader reports are built from."""

import io
import json
import shutil
from dataclasses import replace

import numpy as np
from hydra import compose, initialize_config_dir
from PIL import Image

from ldct_bench.cards.registry import register
from ldct_bench.paths import resource_dir
from ldct_bench.report import log_run
from ldct_bench.report.plots import distribution_png, scatter_png, score_histogram, scored_pairs
from ldct_bench.report.runs import read_predictions
from ldct_bench.run.records import Prediction
from ldct_bench.run.results import Results

RESULTS = Results(task="demo", model="m", strategy="few_shot", selection="random", shots=10, metadata="none", n=4,
                  n_scored=3, metrics={"plcc": 0.9, "srocc": 0.8, "krocc": 0.7, "overall": 2.4})


def _records(*rows: tuple[str, float, float | None]) -> list[Prediction]:
    return [Prediction(id=i, target=t, score=s) for i, t, s in rows]


def _image(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def test_every_run_dir_of_the_sweep_has_both_pngs(wandb_sweep):
    assert len(wandb_sweep.run_dirs) == 2
    for run_dir in wandb_sweep.run_dirs:
        for name in ("scatter.png", "distribution.png"):
            image = _image((run_dir / name).read_bytes())
            assert image.shape[0] > 300 and image.std() > 5  # a drawn figure, not a blank canvas


def test_plots_follow_the_data_and_skip_failures():
    records = _records(("a", 1.0, 1.2), ("b", 3.0, 2.6), ("c", 2.0, None), ("d", 4.0, 3.9))
    targets, scores = scored_pairs(records)
    assert targets.tolist() == [1.0, 3.0, 4.0] and scores.tolist() == [1.2, 2.6, 3.9]
    counts, centres = score_histogram(np.array([0.0, 0.1, 3.99, 4.0, 4.5, 2.0, 1.9]))
    assert centres.tolist() == [i / 4 for i in range(17)]  # whole and quarter scores sit at bin centres
    assert counts.sum() == 7 and counts[0] == 2 and counts[-1] == 3 and counts[8] == 2  # 1.9 falls in the bin of 2.0
    moved = [replace(r, score=None if r.score is None else 4.0 - r.score) for r in records]
    assert not np.array_equal(_image(scatter_png(records, RESULTS)), _image(scatter_png(moved, RESULTS)))
    assert not np.array_equal(_image(distribution_png(records, RESULTS)), _image(distribution_png(moved, RESULTS)))


def test_logger_none_still_writes_the_pngs_and_no_wandb_run(wandb_sweep, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(wandb_sweep.run_dirs[0], run_dir, ignore=shutil.ignore_patterns("*.png"))
    register()
    with initialize_config_dir(config_dir=str(resource_dir("conf")), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["logger=none", "limit=6", "shots=0"])
    log_run(cfg, run_dir, Results.from_json(json.loads((run_dir / "results.json").read_text())))
    assert (run_dir / "scatter.png").stat().st_size > 1000 and (run_dir / "distribution.png").stat().st_size > 1000
    assert not list(tmp_path.rglob("offline-run-*"))


def test_reader_skips_an_unfinished_line_without_touching_the_file(tmp_path):
    journal = tmp_path / "predictions.jsonl"
    text = json.dumps({"id": "b", "target": 1, "score": 1}) + "\n" + json.dumps({"id": "a", "target": 2, "score": 2}) \
        + "\n" + '{"id": "c", "tar'
    journal.write_text(text)
    assert [r.id for r in read_predictions(tmp_path)] == ["a", "b"]
    assert journal.read_text() == text  # a run may still be appending: never cut its journal


def test_titles_name_task_model_setting_and_n_and_a_baseline_shows_no_strategy():
    from ldct_bench.report.plots import title_of

    assert title_of(RESULTS) == "demo | m\nfew_shot/random k=10 | metadata none | n = 3 of 4"
    baseline = replace(RESULTS, model="noise-baseline", strategy="baseline", selection=None, shots=None, n_scored=4)
    assert title_of(baseline) == "demo | noise-baseline\nbaseline (no prompt) | n = 4"


def test_coincident_answers_are_counted_not_hidden():
    from ldct_bench.report.plots import coincident

    xs, ys, counts = coincident(np.array([2.0, 2.0, 2.0, 3.0, 3.0]), np.array([2.0, 2.0, 2.0, 3.0, 2.5]))
    assert sorted(zip(xs.tolist(), ys.tolist(), counts.tolist())) == [(2.0, 2.0, 3), (3.0, 2.5, 1), (3.0, 3.0, 1)]


def test_a_few_items_give_whole_counts_on_the_distribution_axis():
    """With 3 items matplotlib would tick the count axis at 0.25 steps; only whole images may be shown."""
    from matplotlib.ticker import MaxNLocator

    from ldct_bench.report import plots

    seen = []
    original = plots.Figure.add_subplot

    def spy(self, *args, **kwargs):
        axes = original(self, *args, **kwargs)
        seen.append(axes)
        return axes

    records = _records(("a", 1.0, 1.2), ("b", 3.0, 2.6), ("d", 4.0, 3.9))
    plots.Figure.add_subplot = spy
    try:
        distribution_png(records, RESULTS)
    finally:
        plots.Figure.add_subplot = original
    (axes,) = seen
    ticks = [t for t in axes.get_yticks() if axes.get_ylim()[0] <= t <= axes.get_ylim()[1]]
    assert isinstance(axes.yaxis.get_major_locator(), MaxNLocator) and all(float(t).is_integer() for t in ticks)
    bars = [patch for patch in axes.patches]
    assert len(bars) == 2 * 17 and len({round(p.get_facecolor()[2], 3) for p in bars}) == 2  # side by side, 2 colours
    left = {round(p.get_x() + p.get_width() / 2, 4) for p in bars[:17]}
    right = {round(p.get_x() + p.get_width() / 2, 4) for p in bars[17:]}
    assert not left & right  # the two histograms never cover each other


def test_a_run_returns_at_once_and_its_plots_appear_whole_moments_later(tmp_path, capsys):
    """The run hands its plots to a detached process (teardown, issue 11): both files appear, never half-written."""
    import time

    from conftest import invoke

    run_dir = tmp_path / "run"
    result = invoke(["limit=6", f"hydra.run.dir={run_dir}"], capsys)
    assert result.code == 0, result.err
    deadline = time.monotonic() + 60
    while not all((run_dir / name).exists() for name in ("scatter.png", "distribution.png")):
        assert time.monotonic() < deadline, "the plots never appeared"
        time.sleep(0.1)
    for name in ("scatter.png", "distribution.png"):
        assert _image((run_dir / name).read_bytes()).std() > 5


def _rank_labels(figure):
    from matplotlib.text import Annotation

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [(text.get_text(), text.get_window_extent(renderer)) for axes in figure.axes for text in axes.texts
            if isinstance(text, Annotation)]


def test_cost_chart_labels_of_runs_at_one_cost_share_a_label_and_never_overlap():
    from ldct_bench.report.plots import CostPoint, cost_chart

    points = [CostPoint("demo", rank, f"model {rank}", cost, overall, None, None)
              for rank, cost, overall in ((1, 0.5, 2.4), (2, 0.5, 2.4), (3, 0.5, 2.395), (4, 0.5, 1.2), (5, 0.0, 2.4),
                                          (6, 2.0, 2.0))]
    labels = _rank_labels(cost_chart(points))
    assert sorted(int(rank) for text, _ in labels for rank in text.split(", ")) == [1, 2, 3, 4, 5, 6]
    assert "1, 2, 3" in [text for text, _ in labels]  # three runs on one spot: one label, best rank first
    for index, (_, box) in enumerate(labels):
        assert not any(box.overlaps(other) for _, other in labels[index + 1:])


def test_a_task_whose_runs_all_cost_0_dollars_gets_no_cost_axis():
    from ldct_bench.report.plots import CostPoint, cost_chart, free_tasks

    free = [CostPoint("demo", rank, f"model {rank}", 0.0, 2.0 - rank / 10, None, None) for rank in (1, 2)]
    paid = [CostPoint("ldct_iqa", 1, "o3", 3.2, 2.1, 1.9, 2.3)]
    assert free_tasks(free + paid) == ["demo"] and cost_chart(free) is None
    figure = cost_chart(free + paid)
    assert [axes.get_title() for axes in figure.axes] == ["task ldct_iqa: overall against cost"]
